//! A development PKI per test, and signatures made with its keys the way the agent makes
//! them (Brama's own CMS builder over the PKCS#12 key).

use std::path::PathBuf;

use certs::cms::{self, Content, Digest, SignRequest};
use certs::devpki::{self, Manifest, Options};
use certs::statement::LoginStatement;
use gateway::verify::TrustPolicy;
use openssl::x509::X509;

/// The origin the tests' gateways serve and their statements name.
pub const ORIGIN: &str = "https://cabinet.example";

/// A fresh development PKI in a temporary folder, removed on drop.
pub struct Pki {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Pki {
    pub fn new() -> Pki {
        Pki::with(|_| {})
    }

    /// With the generator's options changed by `tweak` (OCSP and CRL URLs, …).
    pub fn with(tweak: impl FnOnce(&mut Options)) -> Pki {
        let tmp = tempfile::tempdir().expect("temporary folder");
        let dir = tmp.path().join("pki");
        let mut options = Options::new(&dir);
        tweak(&mut options);
        let manifest = devpki::init(&options).expect("dev PKI");
        Pki {
            _tmp: tmp,
            dir,
            manifest,
        }
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// The gateway's trust policy over this PKI: its root, its issuing CA, the defaults.
    pub fn policy(&self) -> TrustPolicy {
        let pem = |f: &str| X509::from_pem(&std::fs::read(self.path(f)).unwrap()).unwrap();
        TrustPolicy::new(vec![pem("root.pem")], vec![pem("ica.pem")])
    }

    /// What the agent makes: Brama's builder with the key from the entry's container (its
    /// PKCS#12, or for DSTU keys its PKCS#8 file, signing with GOST 34.311).
    pub fn sign_with(
        &self,
        name: &str,
        content_type: &str,
        content: Content<'_>,
        tweak: impl FnOnce(&mut SignRequest<'_>),
    ) -> Vec<u8> {
        let e = self.manifest.certificate(name).unwrap();
        let certificate;
        let signer: Box<dyn cms::RawSigner> = if e.key.ends_with(".dat") {
            certificate = std::fs::read(self.path(&e.certificate_der)).unwrap();
            let der = std::fs::read(self.path(&e.key)).unwrap();
            Box::new(certs::dstu::SecretKey::from_store(&der, e.password.as_bytes()).unwrap())
        } else {
            let opened = certs::load::pkcs12(
                &std::fs::read(self.path(e.pkcs12.as_ref().unwrap())).unwrap(),
                name,
                &e.password,
            )
            .unwrap();
            certificate = opened.certificate.clone();
            Box::new(opened.key)
        };
        let digest = if e.key.ends_with(".dat") {
            Digest::Gost34311
        } else {
            Digest::Sha256
        };
        let mut req = SignRequest {
            content_type,
            content,
            digest,
            certificate: &certificate,
            chain: &[],
            signing_time: time::OffsetDateTime::now_utc(),
            signing_certificate: None,
        };
        tweak(&mut req);
        cms::sign(&req, signer.as_ref()).unwrap()
    }

    /// The trust policy over both sides of this PKI: the ECDSA and the DSTU roots as anchors,
    /// every CA (the mixed ones too, and the untrusted DSTU CA, which chains nowhere) as
    /// intermediates.
    pub fn policy_with_dstu(&self) -> TrustPolicy {
        let pem = |f: &str| X509::from_pem(&std::fs::read(self.path(f)).unwrap()).unwrap();
        let mut policy = self.policy();
        policy.anchors.push(pem("dstu/dstu-root.pem"));
        for ca in [
            "dstu/dstu-ca.pem",
            "dstu/ecdsa-ca-under-dstu-root.pem",
            "dstu/dstu-ca-under-ecdsa-root.pem",
            "dstu/dstu-untrusted-ca.pem",
        ] {
            policy.intermediates.push(pem(ca));
        }
        policy
    }

    /// A login statement for `origin` and `challenge`, signed as the agent would.
    pub fn sign_statement(&self, name: &str, origin: &str, challenge: &str) -> Vec<u8> {
        self.sign_with(
            name,
            certs::statement::CONTENT_TYPE,
            Content::Attached(&statement_for(origin, challenge)),
            |_| {},
        )
    }
}

impl Default for Pki {
    fn default() -> Self {
        Pki::new()
    }
}

/// A login statement's bytes for [`ORIGIN`] and `challenge`, made now.
pub fn statement(challenge: &str) -> Vec<u8> {
    statement_for(ORIGIN, challenge)
}

fn statement_for(origin: &str, challenge: &str) -> Vec<u8> {
    LoginStatement::new(
        origin,
        challenge,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    )
    .to_bytes()
}

/// A self-signed signing certificate made by the `openssl` command (not by Brama): a new P-256
/// key written to `work/k.pem`, or `key` (PEM) when given; the certificate in `work/c.pem`,
/// returned as DER.
pub fn openssl_self_signed(work: &std::path::Path, key: Option<&[u8]>, subject: &str) -> Vec<u8> {
    std::fs::write(
        work.join("req.cnf"),
        "[req]\ndistinguished_name=dn\nx509_extensions=ee\n[dn]\n[ee]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n",
    )
    .unwrap();
    let mut args = vec![
        "req", "-new", "-x509", "-config", "req.cnf", "-days", "30", "-utf8",
    ];
    match key {
        Some(pem) => {
            std::fs::write(work.join("k.pem"), pem).unwrap();
            args.extend(["-key", "k.pem"]);
        }
        None => args.extend([
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "k.pem",
        ]),
    }
    args.extend(["-out", "c.pem", "-outform", "PEM", "-subj", subject]);
    let ok = std::process::Command::new("openssl")
        .current_dir(work)
        .args(&args)
        .status()
        .unwrap();
    assert!(ok.success());
    let pem = std::fs::read(work.join("c.pem")).unwrap();
    openssl::x509::X509::from_pem(&pem)
        .unwrap()
        .to_der()
        .unwrap()
}

/// `openssl pkcs12 -export` with the command's defaults (OpenSSL 3 encrypts the certificate
/// bags too) of the key `work/k.pem` and the certificate `work/<cert>`, with the certificates
/// of `work/<extra>` when given, under `password`, written to `out`.
pub fn openssl_pkcs12_export(
    work: &std::path::Path,
    cert: &str,
    extra: Option<&str>,
    password: &str,
    out: &std::path::Path,
) {
    let mut args = vec!["pkcs12", "-export", "-inkey", "k.pem", "-in", cert];
    if let Some(extra) = extra {
        args.extend(["-certfile", extra]);
    }
    let pass = format!("pass:{password}");
    args.extend(["-passout", pass.as_str(), "-out"]);
    let done = std::process::Command::new("openssl")
        .current_dir(work)
        .args(&args)
        .arg(out)
        .output()
        .unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
}
