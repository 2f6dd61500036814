//! Revocation reasons (RFC 5280 CRLReason), shared by the CRL writer of the development PKI
//! and the gateway's CRL and OCSP readers.

/// CRLReason names as `openssl ca` writes them in index.txt, with their codes.
pub const REASONS: [(&str, u8); 9] = [
    ("unspecified", 0),
    ("keyCompromise", 1),
    ("CACompromise", 2),
    ("affiliationChanged", 3),
    ("superseded", 4),
    ("cessationOfOperation", 5),
    ("certificateHold", 6),
    ("removeFromCRL", 8),
    ("privilegeWithdrawn", 9),
];

/// The code of a reason name (`keyCompromise` → 1).
pub fn reason_code(name: &str) -> Option<u8> {
    REASONS.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// The name of a reason code; `unspecified` for codes RFC 5280 does not define.
pub fn reason_name(code: u8) -> &'static str {
    REASONS
        .iter()
        .find(|(_, c)| *c == code)
        .map_or("unspecified", |(n, _)| n)
}
