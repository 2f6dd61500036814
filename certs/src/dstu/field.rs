//! GF(2^m) in a polynomial basis, for the DSTU 4145 curves (m ≤ 431): an element is a
//! polynomial over GF(2) of degree < m, stored as 64-bit limbs, least significant first.
//!
//! Every operation runs the same instructions for every value of its operands (loops bound by
//! the public field size only; multiplication by carry-less multiply; inversion by Fermat's
//! little theorem), so the signing path leaks nothing through time.

use super::clmul;

/// Limbs of an element: 7 × 64 = 448 ≥ 431 bits.
pub const LIMBS: usize = 7;

/// An element of some GF(2^m), bit i the coefficient of x^i.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fe(pub [u64; LIMBS]);

impl Fe {
    /// 0
    pub const ZERO: Fe = Fe([0; LIMBS]);
    /// 1
    pub const ONE: Fe = Fe([1, 0, 0, 0, 0, 0, 0]);

    /// From little-endian bytes (the DSTU octet-string order); `None` when too long.
    pub fn from_le(bytes: &[u8]) -> Option<Fe> {
        if bytes.len() > LIMBS * 8 {
            return None;
        }
        let mut fe = Fe::ZERO;
        for (i, b) in bytes.iter().enumerate() {
            fe.0[i / 8] |= (*b as u64) << (8 * (i % 8));
        }
        Some(fe)
    }

    /// From big-endian bytes; `None` when too long.
    pub fn from_be(bytes: &[u8]) -> Option<Fe> {
        let mut le = bytes.to_vec();
        le.reverse();
        Fe::from_le(&le)
    }

    /// `len` little-endian bytes (the value must fit).
    pub fn to_le(&self, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| {
                if i / 8 < LIMBS {
                    (self.0[i / 8] >> (8 * (i % 8))) as u8
                } else {
                    0
                }
            })
            .collect()
    }

    /// Whether every bit is 0 (constant time).
    pub fn is_zero(&self) -> bool {
        self.0.iter().fold(0, |acc, w| acc | w) == 0
    }

    /// Bit `i`.
    pub fn bit(&self, i: usize) -> bool {
        (self.0[i / 64] >> (i % 64)) & 1 == 1
    }

    /// The degree + 1 (0 for zero): public values only (it branches).
    pub fn bit_len(&self) -> usize {
        for i in (0..LIMBS).rev() {
            if self.0[i] != 0 {
                return 64 * i + 64 - self.0[i].leading_zeros() as usize;
            }
        }
        0
    }

    /// Keep only the bits below `bits`.
    pub fn truncate(&self, bits: usize) -> Fe {
        let mut out = *self;
        for (i, w) in out.0.iter_mut().enumerate() {
            let lo = 64 * i;
            if bits <= lo {
                *w = 0;
            } else if bits < lo + 64 {
                *w &= (1u64 << (bits - lo)) - 1;
            }
        }
        out
    }

    /// a + b (XOR).
    pub fn add(&self, other: &Fe) -> Fe {
        let mut out = *self;
        for (o, b) in out.0.iter_mut().zip(other.0) {
            *o ^= b;
        }
        out
    }

    /// `self` if `choice` is 1, `other` if 0, without a branch on `choice`.
    pub fn select(choice: u64, a: &Fe, b: &Fe) -> Fe {
        let mask = 0u64.wrapping_sub(choice & 1);
        let mut out = Fe::ZERO;
        for i in 0..LIMBS {
            out.0[i] = (a.0[i] & mask) | (b.0[i] & !mask);
        }
        out
    }
}

type Reducer = fn(&mut [u64; 2 * LIMBS]) -> Fe;

/// The standard's ten fields, each with its reduction compiled for its own polynomial: the
/// loops unroll and every shift is a constant.
const FAST: [(usize, [usize; 3], Reducer); 10] = [
    (163, [7, 6, 3], reduce_c::<3, 163, 7, 6, 3, 3>),
    (167, [6, 0, 0], reduce_c::<3, 167, 6, 0, 0, 1>),
    (173, [10, 2, 1], reduce_c::<3, 173, 10, 2, 1, 3>),
    (179, [4, 2, 1], reduce_c::<3, 179, 4, 2, 1, 3>),
    (191, [9, 0, 0], reduce_c::<3, 191, 9, 0, 0, 1>),
    (233, [9, 4, 1], reduce_c::<4, 233, 9, 4, 1, 3>),
    (257, [12, 0, 0], reduce_c::<5, 257, 12, 0, 0, 1>),
    (307, [8, 4, 2], reduce_c::<5, 307, 8, 4, 2, 3>),
    (367, [21, 0, 0], reduce_c::<6, 367, 21, 0, 0, 1>),
    (431, [5, 3, 1], reduce_c::<7, 431, 5, 3, 1, 3>),
];

/// x^m + x^K1 (+ x^K2 + x^K3) + 1 with everything known at compile time; the same two folds
/// as [`Field::reduce_n`].
fn reduce_c<
    const N: usize,
    const M: usize,
    const K1: usize,
    const K2: usize,
    const K3: usize,
    const NK: usize,
>(
    r: &mut [u64; 2 * LIMBS],
) -> Fe {
    // The constants propagate into the inlined folds: the loops unroll per field.
    fold::<N>(r, M, &[K1, K2, K3][..NK])
}

/// Two folds of the part above x^m: r = L + H·x^m ≡ L + H·(Σ x^k + 1). After the first, at
/// most k_max bits stand above x^m (k_max < m − 63, see [`Field::new`]); after the second
/// none. Whole-word shifts, a loop length known at compile time: no per-bit work.
#[inline(always)]
fn fold<const N: usize>(r: &mut [u64; 2 * LIMBS], m: usize, ks: &[usize]) -> Fe {
    let (w, s) = (m / 64, m % 64);
    for _ in 0..2 {
        // h = r >> m
        let mut h = [0u64; LIMBS + 1];
        for (i, hi_word) in h.iter_mut().enumerate().take(N + 1) {
            let lo = if i + w < 2 * N { r[i + w] } else { 0 };
            let hi = if i + w + 1 < 2 * N { r[i + w + 1] } else { 0 };
            *hi_word = if s == 0 {
                lo
            } else {
                (lo >> s) | (hi << (64 - s))
            };
        }
        // r = r mod x^m
        r[w] &= (1u64 << s) - 1;
        for x in r.iter_mut().take(2 * N).skip(w + 1) {
            *x = 0;
        }
        // r ^= h · (1 + Σ x^k)
        for i in 0..N + 1 {
            r[i] ^= h[i];
        }
        for &k in ks {
            let (kw, ks) = (k / 64, k % 64);
            for i in 0..N + 1 {
                if i + kw < 2 * N {
                    r[i + kw] ^= h[i] << ks;
                }
                if ks != 0 && i + kw + 1 < 2 * N {
                    r[i + kw + 1] ^= h[i] >> (64 - ks);
                }
            }
        }
    }
    let mut out = Fe::ZERO;
    out.0[..N].copy_from_slice(&r[..N]);
    out
}

/// A binary field: x^m + x^k1 (+ x^k2 + x^k3) + 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The degree m.
    pub m: usize,
    /// The middle exponents of the reduction polynomial, highest first (one or three).
    pub ks: Vec<usize>,
    /// Limbs in use: ⌈m / 64⌉.
    words: usize,
    /// The index of this field's compiled reduction in [`FAST`], if it is one of the standard's.
    fast: Option<usize>,
    /// The bits i with Tr(x^i) = 1 (the trace is linear: Tr(a) = parity of a & mask).
    trace_mask: Fe,
}

impl Field {
    /// GF(2^m) reduced by x^m + Σ x^k + 1; `None` unless one or three middle exponents lie
    /// strictly between 0 and m − 63 (what the reduction below needs; every DSTU curve fits).
    pub fn new(m: usize, ks: &[usize]) -> Option<Field> {
        if !(2..=LIMBS * 64 - 17).contains(&m)
            || !(ks.len() == 1 || ks.len() == 3)
            || ks.iter().any(|&k| k == 0 || k + 64 > m)
        {
            return None;
        }
        let mut f = Field {
            m,
            ks: ks.to_vec(),
            words: m.div_ceil(64),
            fast: FAST.iter().position(|(fm, fks, _)| {
                *fm == m && fks[..ks.len()] == *ks && (ks.len() == 3 || fks[1] == 0)
            }),
            trace_mask: Fe::ZERO,
        };
        let mut mask = Fe::ZERO;
        for i in 0..m {
            let mut xi = Fe::ZERO;
            xi.0[i / 64] = 1 << (i % 64);
            if f.trace_slow(&xi) {
                mask.0[i / 64] |= 1 << (i % 64);
            }
        }
        f.trace_mask = mask;
        Some(f)
    }

    /// Whether `a` is a reduced element of this field.
    pub fn contains(&self, a: &Fe) -> bool {
        a.bit_len() <= self.m
    }

    /// Bytes of an element: ⌈m / 8⌉.
    pub fn byte_len(&self) -> usize {
        self.m.div_ceil(8)
    }

    /// Reduce a product of up to 2·words limbs.
    #[inline]
    fn reduce(&self, r: &mut [u64; 2 * LIMBS]) -> Fe {
        if let Some(i) = self.fast {
            return (FAST[i].2)(r);
        }
        match self.words {
            1 => self.reduce_n::<1>(r),
            2 => self.reduce_n::<2>(r),
            3 => self.reduce_n::<3>(r),
            4 => self.reduce_n::<4>(r),
            5 => self.reduce_n::<5>(r),
            6 => self.reduce_n::<6>(r),
            _ => self.reduce_n::<7>(r),
        }
    }

    /// The generic reduction: [`fold`] with this field's polynomial read at run time.
    #[inline(always)]
    fn reduce_n<const N: usize>(&self, r: &mut [u64; 2 * LIMBS]) -> Fe {
        fold::<N>(r, self.m, &self.ks)
    }

    /// a · b.
    pub fn mul(&self, a: &Fe, b: &Fe) -> Fe {
        let mut r = clmul::mul(&a.0, &b.0, self.words);
        self.reduce(&mut r)
    }

    /// a².
    pub fn square(&self, a: &Fe) -> Fe {
        let mut r = clmul::square(&a.0, self.words);
        self.reduce(&mut r)
    }

    /// a^(2^n).
    pub fn square_n(&self, a: &Fe, n: usize) -> Fe {
        let mut x = *a;
        for _ in 0..n {
            x = self.square(&x);
        }
        x
    }

    /// 1/a (0 for 0): a^(2^m − 2) by the Itoh–Tsujii chain, the same steps for every a.
    pub fn invert(&self, a: &Fe) -> Fe {
        // beta(k) = a^(2^k − 1); beta(m − 1) squared is a^(2^m − 2).
        let n = self.m - 1;
        let mut beta = *a; // k = 1
        let mut k = 1;
        for bit in (0..usize::BITS - 1 - n.leading_zeros()).rev() {
            // beta(2k) = beta(k)^(2^k) · beta(k)
            beta = self.mul(&self.square_n(&beta, k), &beta);
            k *= 2;
            if (n >> bit) & 1 == 1 {
                beta = self.mul(&self.square(&beta), a);
                k += 1;
            }
        }
        debug_assert_eq!(k, n);
        self.square(&beta)
    }

    /// Tr(a) = a + a^2 + … + a^(2^(m−1)), which is 0 or 1.
    pub fn trace(&self, a: &Fe) -> bool {
        let mut acc = 0u64;
        for i in 0..LIMBS {
            acc ^= a.0[i] & self.trace_mask.0[i];
        }
        acc.count_ones() & 1 == 1
    }

    fn trace_slow(&self, a: &Fe) -> bool {
        let (mut t, mut s) = (*a, *a);
        for _ in 1..self.m {
            t = self.square(&t);
            s = s.add(&t);
        }
        s.0[0] & 1 == 1
    }

    /// The half-trace (m odd): z with z^2 + z = c whenever Tr(c) = 0.
    pub fn half_trace(&self, c: &Fe) -> Fe {
        let mut z = *c;
        let mut t = *c;
        for _ in 0..(self.m - 1) / 2 {
            t = self.square_n(&t, 2);
            z = z.add(&t);
        }
        z
    }

    /// √a = a^(2^(m−1)).
    pub fn sqrt(&self, a: &Fe) -> Fe {
        self.square_n(a, self.m - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_257() -> Field {
        Field::new(257, &[12]).unwrap()
    }

    fn sample(f: &Field, seed: u64) -> Fe {
        let mut x = seed | 1;
        let mut fe = Fe::ZERO;
        for w in fe.0.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *w = x;
        }
        fe.truncate(f.m)
    }

    #[test]
    fn the_field_laws_hold() {
        for (m, ks) in [(163, vec![7, 6, 3]), (257, vec![12]), (431, vec![5, 3, 1])] {
            let f = Field::new(m, &ks).unwrap();
            for seed in 1..20 {
                let (a, b, c) = (
                    sample(&f, seed),
                    sample(&f, seed * 7),
                    sample(&f, seed * 13),
                );
                assert!(f.contains(&f.mul(&a, &b)));
                assert_eq!(f.mul(&a, &b), f.mul(&b, &a));
                assert_eq!(f.mul(&f.mul(&a, &b), &c), f.mul(&a, &f.mul(&b, &c)));
                assert_eq!(f.mul(&a, &b.add(&c)), f.mul(&a, &b).add(&f.mul(&a, &c)));
                assert_eq!(f.square(&a), f.mul(&a, &a));
                assert_eq!(f.mul(&a, &f.invert(&a)), Fe::ONE, "m = {m}");
                assert_eq!(f.square(&f.sqrt(&a)), a);
                // Trace is additive and the half-trace solves z^2 + z = c when Tr(c) = 0.
                assert_eq!(f.trace(&a.add(&b)), f.trace(&a) ^ f.trace(&b));
                let c0 = if f.trace(&c) { c.add(&Fe::ONE) } else { c };
                if f.trace(&c0) {
                    continue; // Tr(1) = 1 for odd m, so c0 has trace 0 here
                }
                let z = f.half_trace(&c0);
                assert_eq!(f.square(&z).add(&z), c0);
            }
        }
    }

    #[test]
    fn the_compiled_reductions_agree_with_the_generic_one() {
        for (m, ks, _) in FAST {
            let nk = if ks[1] == 0 { 1 } else { 3 };
            let fast = Field::new(m, &ks[..nk]).unwrap();
            assert!(fast.fast.is_some(), "m = {m}");
            let generic = Field {
                fast: None,
                ..fast.clone()
            };
            for seed in 1..50 {
                let (a, b) = (sample(&fast, seed), sample(&fast, seed * 3 + 1));
                assert_eq!(fast.mul(&a, &b), generic.mul(&a, &b), "m = {m}");
                assert_eq!(fast.square(&a), generic.square(&a), "m = {m}");
            }
        }
    }

    #[test]
    fn reduction_matches_the_polynomial() {
        // x^257 ≡ x^12 + 1 in GF(2^257).
        let f = field_257();
        let mut x128 = Fe::ZERO;
        x128.0[2] = 1; // x^128
        let x256 = f.square(&x128);
        let mut x = Fe::ZERO;
        x.0[0] = 2;
        let mut want = Fe::ONE;
        want.0[0] |= 1 << 12;
        assert_eq!(f.mul(&x256, &x), want);
        assert_eq!(f.invert(&Fe::ZERO), Fe::ZERO);
    }

    #[test]
    fn bad_fields_are_refused() {
        assert!(Field::new(257, &[12, 3]).is_none());
        assert!(Field::new(257, &[0]).is_none());
        assert!(Field::new(100, &[50]).is_none());
        assert!(Field::new(500, &[1]).is_none());
    }

    #[test]
    fn bytes_round_trip() {
        let f = field_257();
        let a = sample(&f, 5);
        assert_eq!(Fe::from_le(&a.to_le(f.byte_len())).unwrap(), a);
        let mut be = a.to_le(f.byte_len());
        be.reverse();
        assert_eq!(Fe::from_be(&be).unwrap(), a);
        assert!(Fe::from_le(&[0; 57]).is_none());
    }
}
