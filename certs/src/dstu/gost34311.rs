//! The GOST 34.311-95 hash (GOST R 34.11-94 with Ukrainian parameters): 256-bit output, the
//! step function built on GOST 28147-89 under an S-box that a key's parameters may replace.
//!
//! RustCrypto's `gost94` has the default Ukrainian S-box only, fixed at compile time; a key whose
//! parameters carry another DKE needs the S-box as a value, so the hash is written here and
//! checked against `gost94` for the default one (see the tests).

use super::gost28147::{Cipher, SBox};

type Block = [u8; 32];

const C3: Block = [
    0x00, 0xff, 0x00, 0xff, 0x00, 0xff, 0x00, 0xff, 0xff, 0x00, 0xff, 0x00, 0xff, 0x00, 0xff, 0x00,
    0x00, 0xff, 0xff, 0x00, 0xff, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0xff,
];

/// A running GOST 34.311 hash.
#[derive(Clone)]
pub struct Gost34311 {
    sbox: SBox,
    h: Block,
    /// Bits hashed so far (256-bit counter, little-endian words).
    len: [u64; 4],
    /// The sum of all message blocks mod 2^256.
    sigma: [u64; 4],
    buf: Block,
    buf_len: usize,
}

impl Gost34311 {
    /// A hash under the default Ukrainian S-box.
    pub fn new() -> Gost34311 {
        Gost34311::with_sbox(SBox::default_ua())
    }

    /// A hash under `sbox` (a DKE from a key's parameters), with the zero starting vector.
    pub fn with_sbox(sbox: SBox) -> Gost34311 {
        Gost34311 {
            sbox,
            h: [0; 32],
            len: [0; 4],
            sigma: [0; 4],
            buf: [0; 32],
            buf_len: 0,
        }
    }

    /// The hash of `data` in one call, under the default S-box.
    pub fn digest(data: &[u8]) -> [u8; 32] {
        let mut h = Gost34311::new();
        h.update(data);
        h.finish()
    }

    /// Adds `data` to the hash.
    pub fn update(&mut self, mut data: &[u8]) {
        if self.buf_len > 0 {
            let take = (32 - self.buf_len).min(data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
            if self.buf_len < 32 {
                return;
            }
            let block = self.buf;
            self.absorb(&block, 32);
            self.buf_len = 0;
        }
        let mut chunks = data.chunks_exact(32);
        for chunk in &mut chunks {
            self.absorb(chunk.try_into().expect("32 bytes"), 32);
        }
        let rest = chunks.remainder();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buf_len = rest.len();
    }

    /// The 32-byte hash value, in the byte order the standard writes it (and signatures use).
    pub fn finish(mut self) -> [u8; 32] {
        if self.buf_len > 0 {
            let mut block = [0u8; 32];
            block[..self.buf_len].copy_from_slice(&self.buf[..self.buf_len]);
            self.absorb(&block, self.buf_len);
        }
        let len = words_to_block(&self.len);
        self.step(&len);
        let sigma = words_to_block(&self.sigma);
        self.step(&sigma);
        let out = self.h;
        zeroize::Zeroize::zeroize(&mut self.buf);
        out
    }

    fn absorb(&mut self, block: &Block, bytes: usize) {
        add_bits(&mut self.len, (bytes as u64) * 8);
        let mut carry = 0u64;
        for (s, chunk) in self.sigma.iter_mut().zip(block.chunks_exact(8)) {
            let b = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            let (x, c1) = s.overflowing_add(b);
            let (x, c2) = x.overflowing_add(carry);
            *s = x;
            carry = u64::from(c1) + u64::from(c2);
        }
        self.step(block);
    }

    /// The step function: four encryptions of the parts of H under keys made from H and M, then
    /// the mixing transformation ψ.
    fn step(&mut self, m: &Block) {
        let mut s = self.h;
        let mut u = self.h;
        let mut v = *m;
        for i in 0..4 {
            if i > 0 {
                u = a(&u);
                if i == 2 {
                    xor_in(&mut u, &C3);
                }
                v = a(&a(&v));
            }
            let mut w = u;
            xor_in(&mut w, &v);
            let key = p(&w);
            let cipher = Cipher::new(&key, &self.sbox);
            let part: &mut [u8; 8] = (&mut s[8 * i..8 * i + 8]).try_into().expect("8 bytes");
            cipher.encrypt_block(part);
        }
        // H = ψ^61(H ⊕ ψ(M ⊕ ψ^12(S)))
        for _ in 0..12 {
            psi(&mut s);
        }
        xor_in(&mut s, m);
        psi(&mut s);
        xor_in(&mut self.h, &s);
        for _ in 0..61 {
            psi(&mut self.h);
        }
    }
}

impl Default for Gost34311 {
    fn default() -> Self {
        Gost34311::new()
    }
}

fn words_to_block(words: &[u64; 4]) -> Block {
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(8).zip(words) {
        o.copy_from_slice(&w.to_le_bytes());
    }
    out
}

fn add_bits(counter: &mut [u64; 4], bits: u64) {
    let mut carry = bits;
    for w in counter.iter_mut() {
        let (x, c) = w.overflowing_add(carry);
        *w = x;
        carry = u64::from(c);
    }
}

fn xor_in(a: &mut Block, b: &Block) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

/// A(x): shift the four 64-bit parts down, the new top part is x1 ⊕ x2.
fn a(x: &Block) -> Block {
    let mut out = [0u8; 32];
    out[..24].copy_from_slice(&x[8..]);
    for i in 0..8 {
        out[24 + i] = x[i] ^ x[8 + i];
    }
    out
}

/// P: the byte transposition that makes a cipher key from a 256-bit value.
fn p(y: &Block) -> [u8; 32] {
    let mut out = [0u8; 32];
    for i in 0..4 {
        for k in 0..8 {
            out[i + 4 * k] = y[8 * i + k];
        }
    }
    out
}

/// ψ: the linear feedback shift of sixteen 16-bit words.
fn psi(block: &mut Block) {
    let mut x0 = [block[0], block[1]];
    for i in [1usize, 2, 3, 12, 15] {
        x0[0] ^= block[2 * i];
        x0[1] ^= block[2 * i + 1];
    }
    block.copy_within(2.., 0);
    block[30] = x0[0];
    block[31] = x0[1];
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost94::Digest;

    fn reference(data: &[u8]) -> [u8; 32] {
        gost94::Gost94UA::digest(data).into()
    }

    #[test]
    fn agrees_with_gost94_for_every_length_and_split() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 31 + 7) as u8).collect();
        for len in [0, 1, 31, 32, 33, 63, 64, 65, 100, 200] {
            assert_eq!(
                Gost34311::digest(&data[..len]),
                reference(&data[..len]),
                "len {len}"
            );
            let mut h = Gost34311::new();
            for piece in data[..len].chunks(7) {
                h.update(piece);
            }
            assert_eq!(h.finish(), reference(&data[..len]), "len {len} in pieces");
        }
    }

    #[test]
    fn another_sbox_gives_another_hash() {
        let mut dke = super::super::gost28147::DEFAULT_DKE;
        dke.swap(0, 1);
        let mut h = Gost34311::with_sbox(SBox::from_dke(&dke).unwrap());
        h.update(b"Brama");
        assert_ne!(h.finish(), Gost34311::digest(b"Brama"));
    }
}
