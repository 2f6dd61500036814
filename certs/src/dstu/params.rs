//! The DSTU 4145 key parameters of a SubjectPublicKeyInfo: a curve (named by OID or written
//! out) and the optional DKE, the S-box for GOST 28147 and GOST 34.311 under this key.
//!
//! ```text
//! DSTU4145Params ::= SEQUENCE {
//!     definition CHOICE { ecbinary ECBinary, namedCurve OBJECT IDENTIFIER },
//!     dke        OCTET STRING OPTIONAL }          -- 64 bytes
//! ECBinary ::= SEQUENCE {
//!     version [0] EXPLICIT INTEGER DEFAULT 0,
//!     f  BinaryField,                             -- m and the polynomial's middle exponents
//!     a  INTEGER (0 | 1),
//!     b  OCTET STRING,                            -- little-endian (or big-endian, see ByteOrder)
//!     n  INTEGER,                                 -- the base point's order
//!     bp OCTET STRING }                           -- the base point, compressed
//! BinaryField ::= SEQUENCE { m INTEGER, CHOICE { k INTEGER, SEQUENCE { k, j, l INTEGER } } }
//! ```

use asn1_rs::{Any, Class, Tag};

use super::curve::{Curve, Point};
use super::field::{Fe, Field};
use super::gost28147::SBox;
use super::{ByteOrder, DstuError};
use crate::der;

/// A key's domain: the curve and the S-box its hash and cipher run under.
#[derive(Clone, Debug)]
pub struct Params {
    /// The curve and its base point.
    pub curve: Curve,
    /// The S-box (the default Ukrainian one when the parameters carry no DKE).
    pub sbox: SBox,
    /// Whether the parameters carried a DKE (written back the same way).
    pub explicit_dke: bool,
    /// The named curve's index (`.2.0` … `.2.9`) when the parameters name one.
    pub named: Option<usize>,
}

impl Params {
    /// The parameters of a named curve with the default S-box.
    pub fn named(index: usize) -> Option<Params> {
        Some(Params {
            curve: Curve::named(index)?,
            sbox: SBox::default_ua(),
            explicit_dke: false,
            named: Some(index),
        })
    }

    /// Reads DER parameters; `order` says how the octet strings inside are written.
    pub fn from_der(bytes: &[u8], order: ByteOrder) -> Result<Params, DstuError> {
        let malformed = |what: &str| DstuError::Malformed(format!("DSTU 4145 parameters: {what}"));
        let top = der::one(bytes).map_err(|_| malformed("not DER"))?;
        if top.tag() != Tag::Sequence {
            return Err(malformed("not a SEQUENCE"));
        }
        let parts = der::elements(&top).map_err(|_| malformed("truncated"))?;
        let (definition, rest) = parts.split_first().ok_or_else(|| malformed("empty"))?;
        let (curve, named) = match definition.tag() {
            Tag::Oid => {
                let oid = definition
                    .clone()
                    .oid()
                    .map_err(|_| malformed("bad curve OID"))?
                    .to_id_string();
                let curve = Curve::by_oid(&oid).ok_or_else(|| {
                    DstuError::Unsupported(format!(
                        "DSTU 4145 curve {oid} (not a named polynomial-basis curve)"
                    ))
                })?;
                let index = curve.named_index();
                (curve, index)
            }
            Tag::Sequence => {
                let curve = explicit_curve(definition, order)?;
                let index = curve.named_index();
                (curve, index)
            }
            _ => return Err(malformed("neither a curve OID nor a curve")),
        };
        let (sbox, explicit_dke) = match rest {
            [] => (SBox::default_ua(), false),
            [dke] if dke.tag() == Tag::OctetString => {
                let sbox = SBox::from_dke(dke.data).ok_or_else(|| {
                    malformed(&format!(
                        "a DKE of {} bytes (an S-box is 64)",
                        dke.data.len()
                    ))
                })?;
                (sbox, true)
            }
            _ => return Err(malformed("unexpected fields after the curve")),
        };
        Ok(Params {
            curve,
            sbox,
            explicit_dke,
            named,
        })
    }
}

impl Params {
    /// The parameters as DER, little-endian octet strings: the curve named by its OID when it
    /// is a named one and `explicit` is false, else spelled out (field, a, b, n, base point, as
    /// IIT's certificates write it); the DKE when the key carried one or `explicit` is set.
    pub fn to_der(&self, explicit: bool) -> Vec<u8> {
        use crate::cms::tlv;
        let int = |be: &[u8]| {
            let mut v: Vec<u8> = be.iter().copied().skip_while(|b| *b == 0).collect();
            if v.first().is_none_or(|b| b & 0x80 != 0) {
                v.insert(0, 0);
            }
            tlv(0x02, &v)
        };
        let small = |x: usize| int(&(x as u64).to_be_bytes());
        let c = &self.curve;
        let definition = match self.named.filter(|_| !explicit) {
            Some(i) => tlv(
                0x06,
                &crate::oids::encode(&format!("{}.{i}", super::curve::NAMED_CURVE_ARC)),
            ),
            None => {
                let len = c.field.byte_len();
                let exponents = match c.field.ks.as_slice() {
                    [k] => small(*k),
                    ks => tlv(
                        0x30,
                        &ks.iter()
                            .rev()
                            .map(|k| small(*k))
                            .collect::<Vec<_>>()
                            .concat(),
                    ),
                };
                let mut n_be = c.n.to_le(c.n_bits().div_ceil(8));
                n_be.reverse();
                let g = c.compress(&c.g).expect("the base point is finite");
                tlv(
                    0x30,
                    &[
                        tlv(0x30, &[small(c.field.m), exponents].concat()),
                        small(c.a as usize),
                        tlv(0x04, &c.b.to_le(len)),
                        int(&n_be),
                        tlv(0x04, &g.to_le(len)),
                    ]
                    .concat(),
                )
            }
        };
        let mut body = definition;
        if self.explicit_dke || explicit {
            body.extend(tlv(0x04, &self.sbox.to_dke()));
        }
        tlv(0x30, &body)
    }
}

fn integer(any: &Any<'_>, what: &str) -> Result<u64, DstuError> {
    let bad = || {
        DstuError::Malformed(format!(
            "DSTU 4145 parameters: {what} is not a small INTEGER"
        ))
    };
    if any.tag() != Tag::Integer {
        return Err(bad());
    }
    any.clone().as_u64().map_err(|_| bad())
}

fn explicit_curve(seq: &Any<'_>, order: ByteOrder) -> Result<Curve, DstuError> {
    let malformed = |what: &str| DstuError::Malformed(format!("DSTU 4145 curve: {what}"));
    let mut parts = der::elements(seq).map_err(|_| malformed("truncated"))?;
    if parts
        .first()
        .is_some_and(|p| p.class() == Class::ContextSpecific && p.tag() == Tag(0))
    {
        parts.remove(0); // version: only 0 exists
    }
    let [field, a, b, n, bp] = parts.as_slice() else {
        return Err(malformed("not five fields (field, a, b, n, base point)"));
    };
    if field.tag() != Tag::Sequence {
        return Err(malformed("the field is not a SEQUENCE"));
    }
    let f = der::elements(field).map_err(|_| malformed("truncated field"))?;
    let (m, ks) = match f.as_slice() {
        [m, k] if k.tag() == Tag::Integer => (integer(m, "m")?, vec![integer(k, "k")?]),
        [m, ks] if ks.tag() == Tag::Sequence => {
            let ks = der::elements(ks).map_err(|_| malformed("truncated pentanomial"))?;
            if ks.len() != 3 {
                return Err(malformed("a pentanomial needs three exponents"));
            }
            let ks = ks
                .iter()
                .map(|k| integer(k, "an exponent"))
                .collect::<Result<Vec<_>, _>>()?;
            (integer(m, "m")?, ks)
        }
        _ => {
            return Err(malformed(
                "the field is neither a trinomial nor a pentanomial",
            ))
        }
    };
    let mut ks: Vec<usize> = ks.into_iter().map(|k| k as usize).collect();
    ks.sort_unstable_by(|x, y| y.cmp(x));
    // A standard field comes from the named curves' cache; another one is built here.
    let field = match Curve::by_degree(m as usize).filter(|c| c.field.ks == ks) {
        Some(c) => c.field,
        None => Field::new(m as usize, &ks).ok_or_else(|| {
            DstuError::Unsupported(format!("DSTU 4145 field GF(2^{m}) with exponents {ks:?}"))
        })?,
    };
    let a = match integer(a, "a")? {
        0 => 0u8,
        1 => 1u8,
        other => return Err(malformed(&format!("a = {other} (must be 0 or 1)"))),
    };
    let octets = |any: &Any<'_>, what: &str| -> Result<Fe, DstuError> {
        if any.tag() != Tag::OctetString {
            return Err(malformed(&format!("{what} is not an OCTET STRING")));
        }
        order
            .read(any.data)
            .filter(|fe| field.contains(fe))
            .ok_or_else(|| malformed(&format!("{what} does not fit GF(2^{m})")))
    };
    let b = octets(b, "b")?;
    let compressed = octets(bp, "the base point")?;
    if n.tag() != Tag::Integer {
        return Err(malformed("n is not an INTEGER"));
    }
    let n_bytes = n.data.strip_prefix(&[0]).unwrap_or(n.data);
    let n = Fe::from_be(n_bytes).ok_or_else(|| malformed("n is too large"))?;
    if n.bit_len() < 160 || n.bit_len() > field.m + 1 || !n.bit(0) {
        return Err(malformed("n is not an odd order of the field's size"));
    }
    let mut curve = Curve {
        field,
        a,
        b,
        n,
        g: Point::Infinity,
    };
    let g = curve
        .decompress(&compressed)
        .ok_or_else(|| malformed("the base point is not on the curve"))?;
    curve.g = g;
    if !curve.has_order_n(&g) {
        return Err(malformed("the base point's order is not n"));
    }
    Ok(curve)
}
