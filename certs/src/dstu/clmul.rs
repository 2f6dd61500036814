//! Carry-less multiplication of two 64-bit words (the product of two polynomials over GF(2) of
//! degree < 64), in constant time: PCLMULQDQ where the CPU has it, else a portable loop
//! whose operations do not depend on the operands' values.
#![allow(unsafe_code)] // the PCLMULQDQ intrinsic, called only after the CPU says it has it

/// `a · b` over GF(2)\[x\]: (low word, high word).
#[inline]
pub fn clmul(a: u64, b: u64) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        if has_pclmul() {
            // SAFETY: the CPU supports pclmulqdq and sse2 (checked above, once).
            return unsafe { clmul_x86(a, b) };
        }
    }
    clmul_portable(a, b)
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
unsafe fn clmul_x86(a: u64, b: u64) -> (u64, u64) {
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
