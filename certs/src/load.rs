//! Reading certificates (and, for PKCS#12, keys) from the files people actually have:
//! PEM, DER, certificates-only PKCS#7 bundles (`CACertificates.p7b`) and PKCS#12 (`.p12`/`.pfx`).

use std::path::Path;

use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use zeroize::Zeroizing;

use crate::{der, oids, Error};

const PKCS7_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";

/// Read a file, naming it in the error.
pub fn read_file(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(Error::io(path))
}

/// A private key with its certificate and the chain that came with it.
pub struct KeyAndChain {
    /// The private key.
    pub key: PKey<Private>,
    /// The DER certificate of `key`.
    pub certificate: Vec<u8>,
    /// Other certificates in the container (CAs), DER.
    pub chain: Vec<Vec<u8>>,
}

/// Every certificate in a file, in file order (a PKCS#12 file's own certificate first).
/// `name` is used in error messages. PKCS#12 files need `password`.
pub fn certificates(
    bytes: &[u8],
    name: &str,
    password: Option<&str>,
) -> Result<Vec<Vec<u8>>, Error> {
    if is_pem(bytes) {
        let mut out = Vec::new();
        for pem in x509_parser::pem::Pem::iter_from_buffer(bytes) {
            let pem = pem.map_err(|e| Error::malformed(format!("{name}: PEM: {e}")))?;
            match pem.label.as_str() {
                "CERTIFICATE" => out.push(pem.contents),
                "PKCS7" | "CMS" => out.extend(pkcs7_certificates(&pem.contents)?),
                _ => {} // keys and other blocks beside the certificate
            }
        }
        return if out.is_empty() {
            Err(Error::UnsupportedFile(name.into()))
        } else {
            Ok(out)
        };
    }
    if crate::parse(bytes).is_ok() {
        return Ok(vec![bytes.to_vec()]);
    }
    if let Ok(certs) = pkcs7_certificates(bytes) {
        return Ok(certs);
    }
    if Pkcs12::from_der(bytes).is_ok() {
        let Some(password) = password else {
            let public = pkcs12_public_certificates(bytes).unwrap_or_default();
            return if public.is_empty() {
                Err(Error::PasswordRequired(name.into()))
            } else {
                Ok(public)
            };
        };
        let opened = pkcs12(bytes, name, password)?;
        let mut out = vec![opened.certificate];
        out.extend(opened.chain);
        return Ok(out);
    }
    Err(Error::UnsupportedFile(name.into()))
}

/// Open a PKCS#12 file. A wrong password is [`Error::WrongPassword`], never a panic
/// (OpenSSL takes a C string, so a NUL in the password is refused here first).
pub fn pkcs12(bytes: &[u8], name: &str, password: &str) -> Result<KeyAndChain, Error> {
    if password.contains('\0') {
        return Err(Error::WrongPassword(name.into()));
    }
    let p12 = Pkcs12::from_der(bytes).map_err(|_| Error::UnsupportedFile(name.into()))?;
    let parsed = p12
        .parse2(password)
        .map_err(|_| Error::WrongPassword(name.into()))?;
    let (Some(key), Some(cert)) = (parsed.pkey, parsed.cert) else {
        return Err(Error::malformed(format!(
            "{name}: PKCS#12 without a key and its certificate"
        )));
    };
    let chain = match parsed.ca {
        Some(stack) => stack.iter().map(|c| c.to_der()).collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    Ok(KeyAndChain {
        key,
        certificate: cert.to_der()?,
        chain,
    })
}

const PKCS12_CERT_BAG: &str = "1.2.840.113549.1.12.10.1.3";
const PKCS9_X509_CERTIFICATE: &str = "1.2.840.113549.1.9.22.1";

/// The certificates a PKCS#12 file keeps *unencrypted*, read without its password.
///
/// Many PKCS#12 files keep certificate bags in plain `data` SafeContents; files whose
/// certificates are encrypted give an empty list here and need the password to be read.
pub fn pkcs12_public_certificates(bytes: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let bad = |what: &str| Error::malformed(format!("PKCS#12: {what}"));
    let pfx = der::elements(&der::one(bytes)?)?;
    let auth_safe = pfx.get(1).ok_or_else(|| bad("no authSafe"))?;
    let auth_safe_data = data_content(auth_safe)?.ok_or_else(|| bad("authSafe is not data"))?;
    let mut out = Vec::new();
    for content_info in der::elements(&der::one(auth_safe_data)?)? {
        // Encrypted SafeContents (encryptedData) cannot be read without the password.
        let Some(safe_contents) = data_content(&content_info)? else {
            continue;
        };
        for bag in der::elements(&der::one(safe_contents)?)? {
            let fields = der::elements(&bag)?;
            let is_cert_bag = fields
                .first()
                .and_then(|f| f.as_oid().ok())
                .is_some_and(|o| oids::is(&o, PKCS12_CERT_BAG));
            let Some(value) = fields.get(1).filter(|_| is_cert_bag) else {
                continue;
            };
            let cert_bag = der::elements(value)?
                .into_iter()
                .next()
                .ok_or_else(|| bad("empty certBag"))?;
            let parts = der::elements(&cert_bag)?;
            let x509 = parts
                .first()
                .and_then(|p| p.as_oid().ok())
                .is_some_and(|o| oids::is(&o, PKCS9_X509_CERTIFICATE));
            let Some(explicit) = parts.get(1).filter(|_| x509) else {
                continue;
            };
            let octets = der::elements(explicit)?
                .into_iter()
                .next()
                .ok_or_else(|| bad("empty certValue"))?;
            crate::parse(octets.data)?;
            out.push(octets.data.to_vec());
        }
    }
    Ok(out)
}

/// The OCTET STRING inside a ContentInfo of type `data`, or `None` for other types.
fn data_content<'a>(content_info: &asn1_rs::Any<'a>) -> Result<Option<&'a [u8]>, Error> {
    let parts = der::elements(content_info)?;
    let is_data = parts
        .first()
        .and_then(|p| p.as_oid().ok())
        .is_some_and(|o| oids::is(&o, crate::cms::ID_DATA));
    if !is_data {
        return Ok(None);
    }
    let explicit = parts
        .get(1)
        .ok_or_else(|| Error::malformed("PKCS#12: data without content"))?;
    let octets = der::elements(explicit)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::malformed("PKCS#12: empty data"))?;
    Ok(Some(octets.data))
}

/// Open an encrypted PKCS#8 PEM private key.
pub fn encrypted_pem_key(bytes: &[u8], name: &str, password: &str) -> Result<PKey<Private>, Error> {
    let password = Zeroizing::new(password.as_bytes().to_vec());
    PKey::private_key_from_pem_passphrase(bytes, &password)
        .map_err(|_| Error::WrongPassword(name.into()))
}

/// The DER of `bytes`: itself when it is not PEM, else the first PEM block with one of
/// `labels`; `None` for PEM without such a block.
pub fn pem_or_der(bytes: &[u8], labels: &[&str]) -> Option<Vec<u8>> {
    if !is_pem(bytes) {
        return Some(bytes.to_vec());
    }
    x509_parser::pem::Pem::iter_from_buffer(bytes)
        .filter_map(Result::ok)
        .find(|p| labels.contains(&p.label.as_str()))
        .map(|p| p.contents)
}

fn is_pem(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    bytes[start..].starts_with(b"-----BEGIN")
}

/// Certificates of a certificates-only CMS/PKCS#7 SignedData (the `.p7b` trust bundle format).
pub fn pkcs7_certificates(bytes: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let bad = |what: &str| Error::malformed(format!("PKCS#7: {what}"));
    let content_info = der::elements(&der::one(bytes)?)?;
    let (Some(kind), Some(explicit)) = (content_info.first(), content_info.get(1)) else {
        return Err(bad("ContentInfo is incomplete"));
    };
    if !kind.as_oid().is_ok_and(|o| oids::is(&o, PKCS7_SIGNED_DATA)) {
        return Err(bad("not SignedData"));
    }
    let signed_data = der::elements(explicit)?
        .into_iter()
        .next()
        .ok_or_else(|| bad("empty"))?;
    let mut out = Vec::new();
    for (field, _) in der::elements_raw(&signed_data)? {
        // certificates [0] IMPLICIT CertificateSet
        if field.header.is_contextspecific() && field.header.tag().0 == 0 {
            for (_, raw) in der::elements_raw(&field)? {
                crate::parse(raw)?;
                out.push(raw.to_vec());
            }
        }
    }
    Ok(out)
}
