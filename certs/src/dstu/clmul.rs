//! Carry-less multiplication of two 64-bit words (the product of two polynomials over GF(2) of
//! degree < 64), in constant time: PCLMULQDQ where the CPU has it, else a portable loop
//! whose operations do not depend on the operands' values.
#![allow(unsafe_code)] // the PCLMULQDQ intrinsic, called only after the CPU says it has it

use super::field::LIMBS;

/// The polynomial product of the low `words` limbs of `a` and `b`, unreduced.
#[inline]
pub fn mul(a: &[u64; LIMBS], b: &[u64; LIMBS], words: usize) -> [u64; 2 * LIMBS] {
    #[cfg(target_arch = "x86_64")]
    {
        if has_pclmul() {
            // SAFETY: the CPU supports pclmulqdq and sse2 (checked above, once).
            return unsafe { mul_x86(a, b, words) };
        }
    }
    let mut r = [0u64; 2 * LIMBS];
    for i in 0..words {
        for j in 0..words {
            let (lo, hi) = clmul_portable(a[i], b[j]);
            r[i + j] ^= lo;
            r[i + j + 1] ^= hi;
        }
    }
    r
}

/// The polynomial square of the low `words` limbs of `a` (the bits spread apart), unreduced.
#[inline]
pub fn square(a: &[u64; LIMBS], words: usize) -> [u64; 2 * LIMBS] {
    #[cfg(target_arch = "x86_64")]
    {
        if has_pclmul() {
            // SAFETY: as in `mul`.
            return unsafe { square_x86(a, words) };
        }
    }
    let mut r = [0u64; 2 * LIMBS];
    for i in 0..words {
        let (lo, hi) = clmul_portable(a[i], a[i]);
        r[2 * i] = lo;
        r[2 * i + 1] = hi;
    }
    r
}

/// One word product (tests and the portable path).
#[cfg(test)]
fn clmul(a: u64, b: u64) -> (u64, u64) {
    let mut x = [0u64; LIMBS];
    let mut y = [0u64; LIMBS];
    x[0] = a;
    y[0] = b;
    let r = mul(&x, &y, 1);
    (r[0], r[1])
}

#[cfg(target_arch = "x86_64")]
fn has_pclmul() -> bool {
    use std::sync::atomic::{AtomicU8, Ordering};
    // 0 unknown, 1 no, 2 yes.
    static HAS: AtomicU8 = AtomicU8::new(0);
    match HAS.load(Ordering::Relaxed) {
        2 => true,
        1 => false,
        _ => {
            let yes = std::arch::is_x86_feature_detected!("pclmulqdq")
                && std::arch::is_x86_feature_detected!("sse2");
            HAS.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
            yes
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq,sse2")]
#[inline]
fn clmul_x86(a: u64, b: u64) -> (u64, u64) {
    use std::arch::x86_64::{
        _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x, _mm_srli_si128,
    };
    let x = _mm_set_epi64x(0, a as i64);
    let y = _mm_set_epi64x(0, b as i64);
    let p = _mm_clmulepi64_si128(x, y, 0x00);
    let lo = _mm_cvtsi128_si64(p) as u64;
    let hi = _mm_cvtsi128_si64(_mm_srli_si128(p, 8)) as u64;
    (lo, hi)
}

/// The product for a word count known at compile time: the loops unroll and the partial
/// products accumulate in registers (one XOR per column) instead of in memory.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq,sse2")]
fn mul_n<const N: usize>(a: &[u64; LIMBS], b: &[u64; LIMBS]) -> [u64; 2 * LIMBS] {
    use std::arch::x86_64::*;
    let mut cols = [_mm_setzero_si128(); 2 * LIMBS];
    let av: [__m128i; N] = core::array::from_fn(|i| _mm_set_epi64x(0, a[i] as i64));
    let bv: [__m128i; N] = core::array::from_fn(|j| _mm_set_epi64x(0, b[j] as i64));
    for i in 0..N {
        for j in 0..N {
            cols[i + j] = _mm_xor_si128(cols[i + j], _mm_clmulepi64_si128(av[i], bv[j], 0x00));
        }
    }
    let mut r = [0u64; 2 * LIMBS];
    for k in 0..2 * N - 1 {
        r[k] ^= _mm_cvtsi128_si64(cols[k]) as u64;
        r[k + 1] ^= _mm_cvtsi128_si64(_mm_srli_si128(cols[k], 8)) as u64;
    }
    r
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq,sse2")]
fn square_n<const N: usize>(a: &[u64; LIMBS]) -> [u64; 2 * LIMBS] {
    let mut r = [0u64; 2 * LIMBS];
    for i in 0..N {
        let (lo, hi) = clmul_x86(a[i], a[i]);
        r[2 * i] = lo;
        r[2 * i + 1] = hi;
    }
    r
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq,sse2")]
unsafe fn mul_x86(a: &[u64; LIMBS], b: &[u64; LIMBS], words: usize) -> [u64; 2 * LIMBS] {
    match words {
        1 => mul_n::<1>(a, b),
        2 => mul_n::<2>(a, b),
        3 => mul_n::<3>(a, b),
        4 => mul_n::<4>(a, b),
        5 => mul_n::<5>(a, b),
        6 => mul_n::<6>(a, b),
        _ => mul_n::<7>(a, b),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq,sse2")]
unsafe fn square_x86(a: &[u64; LIMBS], words: usize) -> [u64; 2 * LIMBS] {
    match words {
        1 => square_n::<1>(a),
        2 => square_n::<2>(a),
        3 => square_n::<3>(a),
        4 => square_n::<4>(a),
        5 => square_n::<5>(a),
        6 => square_n::<6>(a),
        _ => square_n::<7>(a),
    }
}

/// The same product with shifts and masks only: every iteration does the same work whatever
/// the bits of `b`.
pub fn clmul_portable(a: u64, b: u64) -> (u64, u64) {
    let mut acc: u128 = 0;
    let a = a as u128;
    for i in 0..64 {
        let mask = 0u128.wrapping_sub(((b >> i) & 1) as u128);
        acc ^= (a << i) & mask;
    }
    (acc as u64, (acc >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardware_and_portable_agree() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..1000 {
            // xorshift: operands of every shape, including all-ones and single bits below.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let y = x.rotate_left(29) ^ 0x5555_5555_5555_5555;
            assert_eq!(clmul(x, y), clmul_portable(x, y));
        }
        assert_eq!(clmul_portable(u64::MAX, u64::MAX).0, 0x5555_5555_5555_5555);
        assert_eq!(clmul(1 << 63, 1 << 63), (0, 1 << 62));
        assert_eq!(clmul(3, 3), (5, 0)); // (x + 1)^2 = x^2 + 1
    }
}
