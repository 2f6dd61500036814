//! The DSTU 4145-2002 curves y² + xy = x³ + ax² + b over GF(2^m) (a ∈ {0, 1}), their points,
//! and the standard's ten recommended polynomial-basis curves (m = 163 … 431), named by the
//! OIDs 1.2.804.2.1.1.1.1.3.1.1.2.0 … .9.
//!
//! Point arithmetic here is affine and variable-time: it serves verification, where every
//! input is public. Signing uses the constant-time ladder of [`super::ladder`].

use super::field::{Fe, Field};

/// A point of a curve; the point at infinity is the group's zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// The point at infinity.
    Infinity,
    /// A point (x, y).
    Affine {
        /// x
        x: Fe,
        /// y
        y: Fe,
    },
}

/// A point in López–Dahab projective coordinates; Z = 0 is the point at infinity.
#[derive(Clone, Copy)]
struct Ld {
    x: Fe,
    y: Fe,
    z: Fe,
}

impl Ld {
    const INFINITY: Ld = Ld {
        x: Fe::ONE,
        y: Fe::ZERO,
        z: Fe::ZERO,
    };
}

/// One curve with its base point of prime order n.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Curve {
    /// The field GF(2^m).
    pub field: Field,
    /// The coefficient a: 0 or 1.
    pub a: u8,
    /// The coefficient b.
    pub b: Fe,
    /// The base point's order (an integer, as limbs).
    pub n: Fe,
    /// The base point G.
    pub g: Point,
}

/// The standard's polynomial-basis curves: (m, middle exponents of the reduction polynomial,
/// a, b, n, base x, base y), hexadecimal, most significant digit first.
type NamedCurve = (
    usize,
    &'static [usize],
    u8,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const NAMED: [NamedCurve; 10] = [
    (163, &[7, 6, 3], 1,
     "5ff6108462a2dc8210ab403925e638a19c1455d21",
     "400000000000000000002bec12be2262d39bcf14d",
     "2e2f85f5dd74ce983a5c4237229daf8a3f35823be",
     "3826f008a8c51d7b95284d9d03ff0e00ce2cd723a"),
    (167, &[6], 1,
     "6ee3ceeb230811759f20518a0930f1a4315a827dac",
     "3fffffffffffffffffffffb12ebcc7d7f29ff7701f",
     "7a1f6653786a68192803910a3d30b2a2018b21cd54",
     "5f49eb26781c0ec6b8909156d98ed435e45fd59918"),
    (173, &[10, 2, 1], 0,
     "108576c80499db2fc16eddf6853bbb278f6b6fb437d9",
     "800000000000000000000189b4e67606e3825bb2831",
     "4d41a619bcc6eadf0448fa22fad567a9181d37389ca",
     "10b51cc12849b234c75e6dd2028bf7ff5c1ce0d991a1"),
    (179, &[4, 2, 1], 1,
     "4a6e0856526436f2f88dd07a341e32d04184572beb710",
     "3ffffffffffffffffffffffb981960435fe5ab64236ef",
     "6ba06fe51464b2bd26dc57f48819ba9954667022c7d03",
     "25fbc363582dcec065080ca8287aaff09788a66dc3a9e"),
    (191, &[9], 1,
     "7bc86e2102902ec4d5890e8b6b4981ff27e0482750fefc03",
     "40000000000000000000000069a779cac1dabc6788f7474f",
     "714114b762f2ff4a7912a6d2ac58b9b5c2fcfe76daeb7129",
     "29c41e568b77c617efe5902f11db96fa9613cd8d03db08da"),
    (233, &[9, 4, 1], 1,
     "6973b15095675534c7cf7e64a21bd54ef5dd3b8a0326aa936ece454d2c",
     "1000000000000000000000000000013e974e72f8a6922031d2603cfe0d7",
     "3fcda526b6cdf83ba1118df35b3c31761d3545f32728d003eeb25efe96",
     "9ca8b57a934c54deeda9e54a7bbad95e3b2e91c54d32be0b9df96d8d35"),
    (257, &[12], 0,
     "1cef494720115657e18f938d7a7942394ff9425c1458c57861f9eea6adbe3be10",
     "800000000000000000000000000000006759213af182e987d3e17714907d470d",
     "2a29ef207d0e9b6c55cd260b306c7e007ac491ca1b10c62334a9e8dcd8d20fb7",
     "10686d41ff744d4449fccf6d8eea03102e6812c93a9d60b978b702cf156d814ef"),
    (307, &[8, 4, 2], 1,
     "393c7f7d53666b5054b5e6c6d3de94f4296c0c599e2e2e241050df18b6090bdc90186904968bb",
     "3ffffffffffffffffffffffffffffffffffffffc079c2f3825da70d390fbba588d4604022b7b7",
     "216ee8b189d291a0224984c1e92f1d16bf75ccd825a087a239b276d3167743c52c02d6e7232aa",
     "5d9306bacd22b7faeb09d2e049c6e2866c5d1677762a8f2f2dc9a11c7f7be8340ab2237c7f2a0"),
    (367, &[21], 1,
     "43fc8ad242b0b7a6f3d1627ad5654447556b47bf6aa4a64b0c2afe42cadab8f93d92394c79a79755437b56995136",
     "40000000000000000000000000000000000000000000009c300b75a3fa824f22428fd28ce8812245ef44049b2d49",
     "324a6eddd512f08c49a99ae0d3f961197a76413e7be81a400ca681e09639b5fe12e59a109f78bf4a373541b3b9a1",
     "1ab597a5b4477f59e39539007c7f977d1a567b92b043a49c6b61984c3fe3481aaf454cd41ba1f051626442b3c10"),
    (431, &[5, 3, 1], 1,
     "3ce10490f6a708fc26dfe8c3d27c4f94e690134d5bff988d8d28aaeaede975936c66bac536b18ae2dc312ca493117daa469c640caf3",
     "3fffffffffffffffffffffffffffffffffffffffffffffffffffffba3175458009a8c0a724f02f81aa8a1fcbaf80d90c7a95110504cf",
     "1a62ba79d98133a16bbae7ed9a8e03c32e0824d57aef72f88986874e5aae49c27bed49a2a95058068426c2171e99fd3b43c5947c857d",
     "70b5e1e14031c1f70bbefe96bdde66f451754b4ca5f48da241f331aa396b8d1839a855c1769b1ea14ba53308b5e2723724e090e02db9"),
];

/// The OID arc of the named curves: `.0` is m = 163 … `.9` is m = 431.
pub const NAMED_CURVE_ARC: &str = "1.2.804.2.1.1.1.1.3.1.1.2";

fn fe_hex(h: &str) -> Fe {
    let h = if h.len() % 2 == 1 {
        format!("0{h}")
    } else {
        h.to_string()
    };
    Fe::from_be(&hex::decode(h).expect("curve constant")).expect("fits")
}

impl Curve {
    /// The named curve with this index (0 … 9); built once per process (a field's trace
    /// table takes m² squarings), cloned after.
    pub fn named(index: usize) -> Option<Curve> {
        static CURVES: std::sync::OnceLock<Vec<Curve>> = std::sync::OnceLock::new();
        let all = CURVES.get_or_init(|| {
            NAMED
                .iter()
                .map(|&(m, ks, a, b, n, x, y)| Curve {
                    field: Field::new(m, ks).expect("a valid DSTU field"),
                    a,
                    b: fe_hex(b),
                    n: fe_hex(n),
                    g: Point::Affine {
                        x: fe_hex(x),
                        y: fe_hex(y),
                    },
                })
                .collect()
        });
        all.get(index).cloned()
    }

    /// The named curve with this OID.
    pub fn by_oid(oid: &str) -> Option<Curve> {
        let index = oid.strip_prefix(NAMED_CURVE_ARC)?.strip_prefix('.')?;
        Curve::named(index.parse().ok()?)
    }

    /// The named curve on GF(2^m), if the standard recommends one.
    pub fn by_degree(m: usize) -> Option<Curve> {
        Curve::named(NAMED.iter().position(|c| c.0 == m)?)
    }

    /// The index of the named curve equal to this one (explicit parameters of a named curve).
    pub fn named_index(&self) -> Option<usize> {
        (0..NAMED.len()).find(|&i| Curve::named(i).as_ref() == Some(self))
    }

    /// Whether n·P is the point at infinity (P in the group of order n).
    pub fn has_order_n(&self, p: &Point) -> bool {
        self.mul_add_public(&self.n, p, &Fe::ZERO, &Point::Infinity) == Point::Infinity
    }

    fn a_fe(&self) -> Fe {
        if self.a == 1 {
            Fe::ONE
        } else {
            Fe::ZERO
        }
    }

    /// Bits of the order n.
    pub fn n_bits(&self) -> usize {
        self.n.bit_len()
    }

    /// Whether `p` satisfies the curve's equation (with coordinates in the field).
    pub fn on_curve(&self, p: &Point) -> bool {
        match p {
            Point::Infinity => true,
            Point::Affine { x, y } => {
                let f = &self.field;
                if !f.contains(x) || !f.contains(y) {
                    return false;
                }
                // y² + xy = x³ + ax² + b
                let x2 = f.square(x);
                let lhs = f.square(y).add(&f.mul(x, y));
                let mut rhs = f.mul(&x2, x).add(&self.b);
                if self.a == 1 {
                    rhs = rhs.add(&x2);
                }
                lhs == rhs
            }
        }
    }

    /// −p = (x, x + y).
    pub fn negate(&self, p: &Point) -> Point {
        match *p {
            Point::Infinity => Point::Infinity,
            Point::Affine { x, y } => Point::Affine { x, y: x.add(&y) },
        }
    }

    /// 2p.
    pub fn double(&self, p: &Point) -> Point {
        let f = &self.field;
        match *p {
            Point::Infinity => Point::Infinity,
            Point::Affine { x, .. } if x.is_zero() => Point::Infinity,
            Point::Affine { x, y } => {
                // λ = x + y/x; x3 = λ² + λ + a; y3 = x² + (λ + 1)·x3
                let l = x.add(&f.mul(&y, &f.invert(&x)));
                let x3 = f.square(&l).add(&l).add(&self.a_fe());
                let y3 = f.square(&x).add(&f.mul(&l.add(&Fe::ONE), &x3));
                Point::Affine { x: x3, y: y3 }
            }
        }
    }

    /// p + q.
    pub fn add(&self, p: &Point, q: &Point) -> Point {
        let f = &self.field;
        match (*p, *q) {
            (Point::Infinity, _) => *q,
            (_, Point::Infinity) => *p,
            (Point::Affine { x: x1, y: y1 }, Point::Affine { x: x2, y: y2 }) => {
                if x1 == x2 {
                    return if y1 == y2 {
                        self.double(p)
                    } else {
                        Point::Infinity // q = −p
                    };
                }
                // λ = (y1 + y2)/(x1 + x2); x3 = λ² + λ + x1 + x2 + a; y3 = λ(x1 + x3) + x3 + y1
                let dx = x1.add(&x2);
                let l = f.mul(&y1.add(&y2), &f.invert(&dx));
                let x3 = f.square(&l).add(&l).add(&dx).add(&self.a_fe());
                let y3 = f.mul(&l, &x1.add(&x3)).add(&x3).add(&y1);
                Point::Affine { x: x3, y: y3 }
            }
        }
    }

    /// k·p for a public scalar (variable time: verification only).
    pub fn mul_public(&self, k: &Fe, p: &Point) -> Point {
        let mut acc = Point::Infinity;
        for i in (0..k.bit_len()).rev() {
            acc = self.double(&acc);
            if k.bit(i) {
                acc = self.add(&acc, p);
            }
        }
        acc
    }

    /// a·P + b·Q for public scalars (verification: s·G + r·Q), variable time: Shamir's joint
    /// double-and-add in López–Dahab coordinates with affine additions, one inversion at the end.
    pub fn mul_add_public(&self, a: &Fe, p: &Point, b: &Fe, q: &Point) -> Point {
        let pq = self.add(p, q);
        let bits = a.bit_len().max(b.bit_len());
        let mut acc = Ld::INFINITY;
        for i in (0..bits).rev() {
            acc = self.ld_double(&acc);
            let add = match (a.bit(i), b.bit(i)) {
                (true, true) => &pq,
                (true, false) => p,
                (false, true) => q,
                (false, false) => continue,
            };
            acc = self.ld_add_affine(&acc, add);
        }
        self.ld_to_affine(&acc)
    }

    /// 2·P in López–Dahab coordinates (x = X/Z, y = Y/Z²): 4M + 5S.
    fn ld_double(&self, p: &Ld) -> Ld {
        let f = &self.field;
        if p.z.is_zero() {
            return *p;
        }
        let x2 = f.square(&p.x);
        let z2 = f.square(&p.z);
        let bz4 = f.mul(&self.b, &f.square(&z2));
        let z3 = f.mul(&x2, &z2);
        let x3 = f.square(&x2).add(&bz4);
        // Y3 = b·Z1⁴·Z3 + X3·(a·Z3 + Y1² + b·Z1⁴)
        let mut t = f.square(&p.y).add(&bz4);
        if self.a == 1 {
            t = t.add(&z3);
        }
        let y3 = f.mul(&bz4, &z3).add(&f.mul(&x3, &t));
        Ld {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// P + Q with Q affine ("mixed" addition, Hankerson–Menezes–Vanstone Alg. 3.25): 8M + 5S.
    fn ld_add_affine(&self, p: &Ld, q: &Point) -> Ld {
        let f = &self.field;
        let Point::Affine { x: x2, y: y2 } = *q else {
            return *p;
        };
        if p.z.is_zero() {
            return Ld {
                x: x2,
                y: y2,
                z: Fe::ONE,
            };
        }
        let t2 = f.square(&p.z);
        let b = f.mul(&p.z, &x2).add(&p.x); // X1 + Z1·x2
        let c = f.mul(&p.z, &b);
        let a = f.mul(&t2, &y2).add(&p.y); // Y1 + Z1²·y2
        if b.is_zero() {
            return if a.is_zero() {
                self.ld_double(&Ld {
                    x: x2,
                    y: y2,
                    z: Fe::ONE,
                })
            } else {
                Ld::INFINITY
            };
        }
        let z3 = f.square(&c);
        let e = f.mul(&c, &a);
        let c_a = if self.a == 1 { c.add(&t2) } else { c };
        let x3 = f.mul(&f.square(&b), &c_a).add(&f.square(&a)).add(&e);
        let t = f.mul(&x2, &z3).add(&x3);
        let y3 = f
            .mul(&e.add(&z3), &t)
            .add(&f.mul(&f.square(&z3), &x2.add(&y2)));
        Ld {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    fn ld_to_affine(&self, p: &Ld) -> Point {
        if p.z.is_zero() {
            return Point::Infinity;
        }
        let f = &self.field;
        let zi = f.invert(&p.z);
        Point::Affine {
            x: f.mul(&p.x, &zi),
            y: f.mul(&p.y, &f.square(&zi)),
        }
    }

    /// A point from its compressed form (DSTU 4145 §6.9): x with the bit 0 carrying y's
    /// trace. `None` when no point has that x.
    pub fn decompress(&self, compressed: &Fe) -> Option<Point> {
        let f = &self.field;
        if !f.contains(compressed) {
            return None;
        }
        if compressed.is_zero() {
            // x = 0: y² = b, the point of order 2.
            return Some(Point::Affine {
                x: Fe::ZERO,
                y: f.sqrt(&self.b),
            });
        }
        let k = compressed.bit(0);
        let mut x = *compressed;
        x.0[0] &= !1;
        // The bit 0 of x is whatever makes Tr(x) = a.
        if f.trace(&x) != (self.a == 1) {
            x.0[0] ^= 1;
        }
        if x.is_zero() {
            return None;
        }
        // y = z·x with z² + z = x + a + b/x².
        let x2 = f.square(&x);
        let v = x.add(&self.a_fe()).add(&f.mul(&self.b, &f.invert(&x2)));
        if f.trace(&v) {
            return None;
        }
        let mut z = f.half_trace(&v);
        if f.square(&z).add(&z) != v {
            return None;
        }
        if f.trace(&z) != k {
            z = z.add(&Fe::ONE);
        }
        let p = Point::Affine {
            x,
            y: f.mul(&z, &x),
        };
        self.on_curve(&p).then_some(p)
    }

    /// The compressed form of a point (inverse of [`Curve::decompress`]).
    pub fn compress(&self, p: &Point) -> Option<Fe> {
        let f = &self.field;
        match p {
            Point::Infinity => None,
            Point::Affine { x, .. } if x.is_zero() => Some(Fe::ZERO),
            Point::Affine { x, y } => {
                let z = f.mul(y, &f.invert(x));
                let mut out = *x;
                out.0[0] &= !1;
                out.0[0] |= f.trace(&z) as u64;
                Some(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_curve_has_its_base_point_of_order_n() {
        for i in 0..10 {
            let c = Curve::named(i).unwrap();
            assert!(c.on_curve(&c.g), "m = {}", c.field.m);
            assert_eq!(
                c.mul_public(&c.n, &c.g),
                Point::Infinity,
                "m = {}",
                c.field.m
            );
            let two_g = c.double(&c.g);
            assert!(c.on_curve(&two_g));
            assert_eq!(c.add(&c.g, &c.g), two_g);
            assert_eq!(c.add(&c.g, &c.negate(&c.g)), Point::Infinity);
            // The projective joint multiplication agrees with the affine one, including the
            // cases that meet the point at infinity or a doubling on the way.
            let three = Fe([3, 0, 0, 0, 0, 0, 0]);
            let five = Fe([5, 0, 0, 0, 0, 0, 0]);
            let mut big = c.n;
            big.0[0] ^= 0x5a5a;
            for (a, p, b, q) in [
                (&three, &c.g, &five, &two_g),
                (&big, &c.g, &three, &two_g),
                (&Fe::ONE, &c.g, &Fe::ONE, &c.negate(&c.g)),
                (&Fe::ONE, &c.g, &Fe::ONE, &c.g),
            ] {
                let want = c.add(&c.mul_public(a, p), &c.mul_public(b, q));
                assert_eq!(c.mul_add_public(a, p, b, q), want, "m = {}", c.field.m);
            }
            let cmp = c.compress(&two_g).unwrap();
            assert_eq!(c.decompress(&cmp), Some(two_g), "m = {}", c.field.m);
            assert_eq!(c.named_index(), Some(i));
            assert_eq!(Curve::by_oid(&format!("{NAMED_CURVE_ARC}.{i}")).unwrap(), c);
        }
        assert!(Curve::by_oid("1.2.804.2.1.1.1.1.3.1.1.2.10").is_none());
        assert!(Curve::by_oid("1.2.804.2.1.1.1.1.3.1.1.2").is_none());
        assert_eq!(Curve::by_degree(257).unwrap().field.m, 257);
    }

    #[test]
    fn a_point_off_the_curve_is_refused() {
        let c = Curve::named(6).unwrap();
        let Point::Affine { x, y } = c.g else {
            panic!()
        };
        assert!(!c.on_curve(&Point::Affine {
            x,
            y: y.add(&Fe::ONE)
        }));
        // An x with no point: try a few until decompression says no.
        let refused = (1u64..200).any(|v| {
            let mut fe = Fe::ZERO;
            fe.0[0] = v << 1;
            c.decompress(&fe).is_none()
        });
        assert!(refused);
        let mut too_big = Fe::ZERO;
        too_big.0[4] = 2; // bit 257
        assert!(c.decompress(&too_big).is_none());
    }
}
