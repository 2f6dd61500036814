//! The agent's HTTPS listener (Safari refuses `http://127.0.0.1` from HTTPS pages).
//!
//! On first start the agent makes a per-install CA that is **name-constrained** to
//! `localhost`, `127.0.0.1` and `::1`, issues its server certificate for those names, and
//! drops the CA key without ever writing it: even if the CA is trusted system-wide, nobody
//! can use it to issue a certificate for any other name, or another one for these. A
//! process of another user squatting the port cannot present this certificate.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    NameConstraints, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// Files under `data_dir/tls/`.
pub struct TlsFiles {
    pub dir: PathBuf,
}

impl TlsFiles {
    pub fn new(data_dir: &Path) -> TlsFiles {
        TlsFiles {
            dir: data_dir.join("tls"),
        }
    }
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    pub fn cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }
    pub fn key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
}

/// Server certificates live 825 days, the most Apple platforms accept even under a local CA.
const SERVER_DAYS: i64 = 825;

fn serial() -> SerialNumber {
    let mut b = [0u8; 16];
    openssl::rand::rand_bytes(&mut b).expect("OpenSSL random");
    b[0] = (b[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&b)
}

/// Load the server certificate, or (first start, or expiring within 30 days) make a new CA
/// and certificate.
pub fn load_or_create(files: &TlsFiles) -> Result<(), String> {
    if let Ok(pem) = std::fs::read(files.cert()) {
        let valid = x509_parser::pem::parse_x509_pem(&pem)
            .ok()
            .and_then(|(_, p)| {
                p.parse_x509()
                    .ok()
                    .map(|c| c.validity().not_after.timestamp())
            })
            .is_some_and(|end| {
                end > (OffsetDateTime::now_utc() + Duration::days(30)).unix_timestamp()
            });
        if valid && files.key().exists() && files.ca().exists() {
            return Ok(());
        }
    }
    create(files)
}

/// RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits.
fn key_identifier(key: &KeyPair) -> Vec<u8> {
    openssl::sha::sha1(key.public_key_raw()).to_vec()
}

fn create(files: &TlsFiles) -> Result<(), String> {
    let err = |e: rcgen::Error| e.to_string();
    let now = OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
    let mut ca = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    let host = std::env::var("HOSTNAME").unwrap_or_default();
    dn.push(
        DnType::CommonName,
        format!("Brama agent local CA {}", host).trim().to_string(),
    );
    dn.push(DnType::OrganizationName, "Brama agent (this computer only)");
    ca.distinguished_name = dn;
    ca.serial_number = Some(serial());
    ca.not_before = now - Duration::hours(1);
    ca.not_after = now + Duration::days(SERVER_DAYS + 1);
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    ca.key_identifier_method = KeyIdMethod::PreSpecified(key_identifier(&ca_key));
    ca.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![
            GeneralSubtree::DnsName("localhost".into()),
            GeneralSubtree::IpAddress(CidrSubnet::V4([127, 0, 0, 1], [255; 4])),
            GeneralSubtree::IpAddress(CidrSubnet::V6(
                std::net::Ipv6Addr::LOCALHOST.octets(),
                [255; 16],
            )),
        ],
        excluded_subtrees: vec![],
    });
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;

    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
    let mut server = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    server.distinguished_name = dn;
    server.serial_number = Some(serial());
    server.not_before = now - Duration::hours(1);
    server.not_after = now + Duration::days(SERVER_DAYS);
    server.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into().map_err(err)?),
        SanType::IpAddress([127, 0, 0, 1].into()),
        SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()),
    ];
    server.is_ca = IsCa::ExplicitNoCa;
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.key_identifier_method = KeyIdMethod::PreSpecified(key_identifier(&key));
    server.use_authority_key_identifier_extension = true;
    let server_cert = server
        .signed_by(&key, &Issuer::from_params(&ca, &ca_key))
        .map_err(err)?;
    drop(ca_key); // never written anywhere: the CA can issue nothing more

    std::fs::create_dir_all(&files.dir).map_err(|e| format!("{}: {e}", files.dir.display()))?;
    let key_pem = zeroize::Zeroizing::new(key.serialize_pem());
    write_private(&files.key(), key_pem.as_bytes())?;
    std::fs::write(files.cert(), [server_cert.pem(), ca_cert.pem()].concat())
        .map_err(|e| e.to_string())?;
    std::fs::write(files.ca(), ca_cert.pem()).map_err(|e| e.to_string())?;
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut f = options
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(bytes).map_err(|e| e.to_string())
}

/// A rustls acceptor over the stored certificate (TLS 1.2 and 1.3, HTTP/1.1).
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(files.cert())
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let key = PrivateKeyDer::from_pem_file(files.key()).map_err(|e| e.to_string())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A TCP listener that completes the TLS handshake before handing a connection to axum.
pub struct TlsListener {
    pub tcp: TcpListener,
    pub acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            // A loopback client that stalls its handshake holds this loop only briefly.
            match tokio::time::timeout(
                std::time::Duration::from_secs(5),
                self.acceptor.accept(stream),
            )
            .await
            {
                Ok(Ok(tls)) => return (tls, addr),
                Ok(Err(e)) => tracing::debug!("TLS handshake failed: {e}"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// The peer address of a connection, on plain or TLS listeners alike.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

/// Name under which the CA is installed in trust stores.
pub const TRUST_NAME: &str = "Brama agent local CA";

/// One way to make a browser trust the agent's CA.
pub struct TrustStep {
    pub what: String,
    pub command: Vec<String>,
}

/// The commands that install the CA: the system store (Debian/Ubuntu; Chromium on Linux
/// reads NSS, most other programs the system store), the user's NSS database (Chromium,
/// Chrome) and each Firefox profile.
pub fn trust_steps(files: &TlsFiles) -> Vec<TrustStep> {
    let ca = files.ca().display().to_string();
    let mut steps = vec![
        TrustStep {
            what: "system trust store".into(),
            command: vec![
                "cp".into(),
                ca.clone(),
                "/usr/local/share/ca-certificates/brama-agent.crt".into(),
            ],
        },
        TrustStep {
            what: "system trust store (refresh)".into(),
            command: vec!["update-ca-certificates".into()],
        },
    ];
    let home = std::env::var("HOME").unwrap_or_default();
    let mut nss = vec![(
        format!("{home}/.pki/nssdb"),
        "Chromium / Chrome (NSS)".to_string(),
    )];
    for base in [
        format!("{home}/.mozilla/firefox"),
        format!("{home}/snap/firefox/common/.mozilla/firefox"),
    ] {
        if let Ok(entries) = std::fs::read_dir(&base) {
            for e in entries.flatten() {
                if e.path().join("cert9.db").exists() {
                    nss.push((
                        e.path().display().to_string(),
                        format!("Firefox profile {}", e.file_name().to_string_lossy()),
                    ));
                }
            }
        }
    }
    for (db, what) in nss {
        steps.push(TrustStep {
            what,
            command: [
                "certutil",
                "-d",
                &format!("sql:{db}"),
                "-A",
                "-t",
                "C,,",
                "-n",
                TRUST_NAME,
                "-i",
                &ca,
            ]
            .map(String::from)
            .to_vec(),
        });
    }
    steps
}

/// Shell-quoted for printing.
pub fn shell(command: &[String]) -> String {
    command
        .iter()
        .map(|a| {
            if a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._-:=,".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
