//! k·P for a secret k: the López–Dahab Montgomery ladder in projective x-coordinates.
//!
//! Every step runs the same field operations whatever the scalar's bits (a conditional swap by
//! mask, not a branch), and the scalar is stretched to one fixed length first, so neither time
//! nor memory access depends on k: not its bits, not its length.

use super::curve::{Curve, Point};
use super::field::{Fe, LIMBS};

/// k·P for 0 < k < n. With `recover_y` false only x is right (y is zero): signing needs x only.
pub fn mul(curve: &Curve, k: &Fe, p: &Point, recover_y: bool) -> Point {
    let Point::Affine { x, y } = *p else {
        return Point::Infinity;
    };
    let f = &curve.field;
    let bits = curve.n.bit_len();
    // k + n or k + 2n, whichever has bit `bits` set: the same multiple of an order-n point, and
    // always `bits + 1` long, so the ladder below always runs `bits` steps from (P, 2P).
    let k1 = add(k, &curve.n);
    let k2 = add(&k1, &curve.n);
    let top = (k1.0[bits / 64] >> (bits % 64)) & 1;
    let kk = Fe::select(top, &k1, &k2);

    let (mut x1, mut z1) = (x, Fe::ONE);
    let x2_sq = f.square(&x);
    let (mut x2, mut z2) = (f.square(&x2_sq).add(&curve.b), x2_sq);
    let mut swap = 0u64;
    for i in (0..bits).rev() {
        let bit = (kk.0[i / 64] >> (i % 64)) & 1;
        cswap(swap ^ bit, &mut x1, &mut x2);
        cswap(swap ^ bit, &mut z1, &mut z2);
        swap = bit;
        // (X2, Z2) ← (X1, Z1) + (X2, Z2), whose difference is P: only x of P is needed.
        let t1 = f.mul(&x1, &z2);
        let t2 = f.mul(&x2, &z1);
        z2 = f.square(&t1.add(&t2));
        x2 = f.mul(&x, &z2).add(&f.mul(&t1, &t2));
        // (X1, Z1) ← 2·(X1, Z1)
        let xs = f.square(&x1);
        let zs = f.square(&z1);
        z1 = f.mul(&xs, &zs);
        x1 = f.square(&xs).add(&f.mul(&curve.b, &f.square(&zs)));
    }
    cswap(swap, &mut x1, &mut x2);
    cswap(swap, &mut z1, &mut z2);

    let xk = f.mul(&x1, &f.invert(&z1));
    if !recover_y {
        return Point::Affine { x: xk, y: Fe::ZERO };
    }
    // y(kP) from x(kP), x((k+1)P) and P (López–Dahab):
    // y1 = (x1 + x)·((x1 + x)(x2 + x) + x² + y)/x + y
    let xk1 = f.mul(&x2, &f.invert(&z2));
    let a = xk.add(&x);
    let b = xk1.add(&x);
    let inner = f.mul(&a, &b).add(&x2_sq).add(&y);
    let yk = f.mul(&f.mul(&a, &inner), &f.invert(&x)).add(&y);
    // (k+1)P = O means kP = −P = (x, x + y): the formula above divides by Z2 = 0 there.
    let at_minus_p = u64::from(z2.is_zero());
    Point::Affine {
        x: xk,
        y: Fe::select(at_minus_p, &x.add(&y), &yk),
    }
}

/// a + b as integers (both below 2^(64·LIMBS − 2), so no carry leaves the top limb).
fn add(a: &Fe, b: &Fe) -> Fe {
    let mut out = Fe::ZERO;
    let mut carry = 0u64;
    for i in 0..LIMBS {
        let (s1, c1) = a.0[i].overflowing_add(b.0[i]);
        let (s2, c2) = s1.overflowing_add(carry);
        out.0[i] = s2;
        carry = u64::from(c1) | u64::from(c2);
    }
    out
}

fn cswap(choice: u64, a: &mut Fe, b: &mut Fe) {
    let mask = 0u64.wrapping_sub(choice & 1);
    for i in 0..LIMBS {
        let t = (a.0[i] ^ b.0[i]) & mask;
        a.0[i] ^= t;
        b.0[i] ^= t;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ladder_agrees_with_double_and_add_on_every_curve() {
        for i in 0..10 {
            let c = Curve::named(i).unwrap();
            let mut seed = 0x1234_5678_9abc_def1u64 ^ i as u64;
            for round in 0..4 {
                let mut k = Fe::ZERO;
                for w in k.0.iter_mut() {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    *w = seed;
                }
                // Small, large and n − 1 scalars as well as random ones.
                let k = match round {
                    0 => Fe::ONE,
                    1 => {
                        let mut m = c.n;
                        m.0[0] -= 1;
                        m
                    }
                    _ => k.truncate(c.n.bit_len() - 1),
                };
                let want = c.mul_public(&k, &c.g);
                assert_eq!(
                    mul(&c, &k, &c.g, true),
                    want,
                    "m = {} round {round}",
                    c.field.m
                );
                let Point::Affine { x, .. } = want else {
                    panic!()
                };
                assert_eq!(mul(&c, &k, &c.g, false), Point::Affine { x, y: Fe::ZERO });
            }
        }
    }
}
