//! The GOST 28147-89 block cipher, with the S-box ("ДКЕ", DKE) as a value: Ukrainian keys name
//! their S-box in the key parameters, and the hash, the key stores and the key wrap all run the
//! cipher under it.
//!
//! Each of the eight 4-bit S-box rows is kept packed in one `u64` (sixteen nibbles) and read with
//! a shift, so no memory address depends on the key or the data (no cache-timing channel),
//! unlike the usual 4 KiB expanded tables.

/// An S-box: eight rows of sixteen 4-bit entries; row `i` substitutes nibble `i` of a word
/// (counted from the least significant).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SBox {
    rows: [u64; 8],
}

/// The Ukrainian default DKE (ДСТУ 4145-2002 / GOST 34.311 "UA" parameter set), packed as it is
/// written in key parameters: 64 bytes, row after row, two entries per byte, the even entry in the
/// high nibble.
pub const DEFAULT_DKE: [u8; 64] = [
    0xa9, 0xd6, 0xeb, 0x45, 0xf1, 0x3c, 0x70, 0x82, 0x80, 0xc4, 0x96, 0x7b, 0x23, 0x1f, 0x5e, 0xad,
    0xf6, 0x58, 0xeb, 0xa4, 0xc0, 0x37, 0x29, 0x1d, 0x38, 0xd9, 0x6b, 0xf0, 0x25, 0xca, 0x4e, 0x17,
    0xf8, 0xe9, 0x72, 0x0d, 0xc6, 0x15, 0xb4, 0x3a, 0x28, 0x97, 0x5f, 0x0b, 0xc1, 0xde, 0xa3, 0x64,
    0x38, 0xb5, 0x64, 0xea, 0x2c, 0x17, 0x9f, 0xd0, 0x12, 0x3e, 0x6d, 0xb8, 0xfa, 0xc5, 0x79, 0x04,
];

impl SBox {
    /// The S-box of a packed 64-byte DKE; `None` for any other length.
    pub fn from_dke(dke: &[u8]) -> Option<SBox> {
        if dke.len() != 64 {
            return None;
        }
        let mut rows = [0u64; 8];
        for (i, row) in rows.iter_mut().enumerate() {
            for j in 0..16 {
                let byte = dke[8 * i + j / 2];
                let entry = if j % 2 == 0 { byte >> 4 } else { byte & 15 };
                *row |= u64::from(entry) << (4 * j);
            }
        }
        Some(SBox { rows })
    }

    /// The default Ukrainian S-box.
    pub fn default_ua() -> SBox {
        SBox::from_dke(&DEFAULT_DKE).expect("64 bytes")
    }

    /// Entry `j` of row `i` (for tests and for writing the DKE back).
    pub fn entry(&self, i: usize, j: usize) -> u8 {
        ((self.rows[i] >> (4 * j)) & 15) as u8
    }

    /// The packed 64-byte DKE of this S-box.
    pub fn to_dke(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        for i in 0..8 {
            for j in 0..16 {
                out[8 * i + j / 2] |= self.entry(i, j) << if j % 2 == 0 { 4 } else { 0 };
            }
        }
        out
    }

    /// The round function: substitute every nibble, rotate left by 11.
    #[inline]
    fn f(&self, x: u32) -> u32 {
        let mut out = 0u32;
        for (i, row) in self.rows.iter().enumerate() {
            let nibble = (x >> (4 * i)) & 15;
            out |= (((row >> (4 * nibble)) & 15) as u32) << (4 * i);
        }
        out.rotate_left(11)
    }
}

/// A GOST 28147-89 key schedule: the 256-bit key as eight little-endian words, under one S-box.
pub struct Cipher<'s> {
    key: [u32; 8],
    sbox: &'s SBox,
}

impl Drop for Cipher<'_> {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

impl<'s> Cipher<'s> {
    /// The cipher under a 32-byte key.
    pub fn new(key: &[u8; 32], sbox: &'s SBox) -> Cipher<'s> {
        let mut k = [0u32; 8];
        for (w, chunk) in k.iter_mut().zip(key.chunks_exact(4)) {
            *w = u32::from_le_bytes(chunk.try_into().expect("4 bytes"));
        }
        Cipher { key: k, sbox }
    }

    /// Encrypts one 8-byte block in place (simple substitution mode).
    pub fn encrypt_block(&self, block: &mut [u8; 8]) {
        self.rounds(block, |i| if i < 24 { i % 8 } else { 31 - i });
    }

    /// Decrypts one 8-byte block in place.
    pub fn decrypt_block(&self, block: &mut [u8; 8]) {
        self.rounds(block, |i| if i < 8 { i } else { (31 - i) % 8 });
    }

    /// One step of the MAC mode (imitovstavka): `state` ^= `block` (zero-padded), then 16
    /// rounds with the key in forward order and no final swap.
    pub fn mac_step(&self, state: &mut [u8; 8], block: &[u8]) {
        for (s, b) in state.iter_mut().zip(block) {
            *s ^= b;
        }
        let mut a = u32::from_le_bytes(state[0..4].try_into().expect("4 bytes"));
        let mut b = u32::from_le_bytes(state[4..8].try_into().expect("4 bytes"));
        for i in 0..16 {
            let t = b ^ self.sbox.f(a.wrapping_add(self.key[i % 8]));
            b = a;
            a = t;
        }
        state[0..4].copy_from_slice(&a.to_le_bytes());
        state[4..8].copy_from_slice(&b.to_le_bytes());
    }

    /// The 32-bit MAC of `data` (its first four bytes of state), as IIT's key stores use it.
    pub fn mac32(&self, data: &[u8]) -> [u8; 4] {
        let mut state = [0u8; 8];
        for chunk in data.chunks(8) {
            self.mac_step(&mut state, chunk);
        }
        let out = [state[0], state[1], state[2], state[3]];
        zeroize::Zeroize::zeroize(&mut state);
        out
    }

    fn rounds(&self, block: &mut [u8; 8], key_index: impl Fn(usize) -> usize) {
        let mut a = u32::from_le_bytes(block[0..4].try_into().expect("4 bytes"));
        let mut b = u32::from_le_bytes(block[4..8].try_into().expect("4 bytes"));
        for i in 0..32 {
            let t = b ^ self.sbox.f(a.wrapping_add(self.key[key_index(i)]));
            b = a;
            a = t;
        }
        block[0..4].copy_from_slice(&b.to_le_bytes());
        block[4..8].copy_from_slice(&a.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_dke_unpacks_to_the_rows_of_the_standard() {
        let s = SBox::default_ua();
        // First and last rows of the Ukrainian parameter set (GOST 34.311 / gost94's UA param).
        let row0: Vec<u8> = (0..16).map(|j| s.entry(0, j)).collect();
        assert_eq!(row0, [10, 9, 13, 6, 14, 11, 4, 5, 15, 1, 3, 12, 7, 0, 8, 2]);
        let row7: Vec<u8> = (0..16).map(|j| s.entry(7, j)).collect();
        assert_eq!(row7, [1, 2, 3, 14, 6, 13, 11, 8, 15, 10, 12, 5, 7, 9, 0, 4]);
        assert_eq!(s.to_dke(), DEFAULT_DKE);
        assert!(SBox::from_dke(&DEFAULT_DKE[..63]).is_none());
    }

    #[test]
    fn decrypt_undoes_encrypt() {
        let s = SBox::default_ua();
        let key: [u8; 32] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        let c = Cipher::new(&key, &s);
        let plain = *b"Brama 28";
        let mut block = plain;
        c.encrypt_block(&mut block);
        assert_ne!(block, plain);
        c.decrypt_block(&mut block);
        assert_eq!(block, plain);
    }
}
