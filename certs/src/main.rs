//! `brama-certs`: the development PKI generator and a reader of real certificates.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use certs::devpki::{self, Options};
use certs::{load, CertificateSummary, Error};

#[derive(Parser)]
#[command(
    name = "brama-certs",
    version,
    about = "Brama certificates: development PKI and certificate inspection",
    long_about = "Brama certificates.\n\n`init` writes a complete development PKI (root and qualified issuing CA, OCSP responder, \
CRL, index.txt, citizens, an organisation representative and one certificate per refusal reason), \
each key also as PKCS#12 and encrypted PEM, described in manifest.json.\n\n`show` prints who a certificate names \
and whether it is qualified: PEM, DER, PKCS#7 bundles and PKCS#12 files, including real Ukrainian \
certificates with DSTU 4145 keys."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a development PKI into DIR (refuses a non-empty DIR without --force).
    Init {
        /// Folder to write into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Replace an existing PKI in DIR.
        #[arg(long)]
        force: bool,
        /// OCSP responder URL written into every certificate's AIA.
        #[arg(long, default_value = devpki::DEFAULT_OCSP_URL)]
        ocsp_url: String,
        /// CRL distribution point URL written into every certificate.
        #[arg(long, default_value = devpki::DEFAULT_CRL_URL)]
        crl_url: String,
        /// One password for every key (default: a random password per key, in manifest.json).
        #[arg(long, env = "BRAMA_CERTS_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Revoke a dev-PKI certificate: marks it R in index.txt (the OCSP responder answers
    /// "revoked" at once) and publishes the CRLs (a new base CRL, or with --delta only the
    /// delta CRL), so CRL and OCSP agree.
    Revoke {
        /// The dev PKI folder.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The certificate's name in manifest.json (citizen-p256, …).
        name: String,
        /// CRLReason: keyCompromise, superseded, cessationOfOperation, affiliationChanged, …
        #[arg(long, default_value = "keyCompromise")]
        reason: String,
        /// Publish in the delta CRL only; the base CRL stays as it is.
        #[arg(long)]
        delta: bool,
    },
    /// Verify a CMS/CAdES signature (ECDSA, RSA, DSTU 4145; attached or detached): the
    /// signer, the signing time, the signed attributes checked, the verdict, and with
    /// --anchors the chain. Exit status 0 only for a valid signature.
    Verify {
        /// The signature: DER or PEM (.p7s, .p7m, .p7).
        signature: PathBuf,
        /// The signed content, for a detached signature.
        #[arg(long, value_name = "FILE")]
        content: Option<PathBuf>,
        /// Trust anchors (PEM, DER, PKCS#7 bundles such as CAList.cer); without them the chain
        /// is not checked.
        #[arg(long = "anchors", value_name = "FILE")]
        anchors: Vec<PathBuf>,
        /// More certificates: intermediate CAs, or the signer's when the signature lacks it.
        #[arg(long = "certs", value_name = "FILE")]
        certs: Vec<PathBuf>,
        /// Check the chain at this time (RFC 3339), not now.
        #[arg(long)]
        at: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the identity, validity and qualified status of the certificates in FILE.
    Show {
        /// PEM, DER (.cer/.crt), PKCS#7 bundle (.p7b) or PKCS#12 (.p12/.pfx).
        file: PathBuf,
        /// Password of a PKCS#12 file.
        #[arg(long, env = "BRAMA_CERTS_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Verify {
        signature,
        content,
        anchors,
        certs,
        at,
        json,
    } = &cli.command
    {
        return match verify(
            signature,
            content.as_deref(),
            anchors,
            certs,
            at.as_deref(),
            *json,
        ) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("brama-certs: error [{}]: {e}", e.code());
                ExitCode::from(2)
            }
        };
    }
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("brama-certs: error [{}]: {e}", e.code());
            ExitCode::FAILURE
        }
    }
}

/// `verify`: the report printed; `Ok(valid)`, `Err` only when a file cannot be read.
fn verify(
    signature: &std::path::Path,
    content: Option<&std::path::Path>,
    anchors: &[PathBuf],
    certs: &[PathBuf],
    at: Option<&str>,
    json: bool,
) -> Result<bool, Error> {
    let read_certs = |files: &[PathBuf]| -> Result<Vec<Vec<u8>>, Error> {
        let mut out = Vec::new();
        for f in files {
            out.extend(load::certificates(
                &load::read_file(f)?,
                &f.display().to_string(),
                None,
            )?);
        }
        Ok(out)
    };
    let at = match at {
        Some(t) => {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map_err(|e| Error::Malformed(format!("--at '{t}': not an RFC 3339 time ({e})")))?
        }
        None => time::OffsetDateTime::now_utc(),
    };
    let signature = load::read_file(signature)?;
    let content = content.map(load::read_file).transpose()?;
    let (anchors, certificates) = (read_certs(anchors)?, read_certs(certs)?);
    let report = certs::document::verify(&certs::document::Request {
        signature: &signature,
        content: content.as_deref(),
        anchors: &anchors,
        certificates: &certificates,
        at: at.unix_timestamp(),
    });
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serialises")
        );
    } else {
        if let Some(s) = &report.signer {
            println!(
                "signer:       {}  ({})",
                s.identity.display_name(),
                s.subject
            );
            println!(
                "certificate:  {} by {}, serial {}, valid {} to {}",
                s.key_algorithm,
                s.issuer_name.as_deref().unwrap_or(&s.issuer),
                s.serial,
                s.not_before,
                s.not_after
            );
        }
        if let Some(t) = &report.signing_time {
            println!("signing time: {t}");
        }
        println!(
            "content:      {} ({})",
            report.content_type,
            if report.attached {
                "attached"
            } else {
                "detached"
            }
        );
        if let Some(d) = report.digest {
            println!("digest:       {d}");
        }
        let attrs: Vec<String> = report
            .attributes
            .iter()
            .map(|a| format!("{}{}", a.name, if a.checked { " ✓" } else { "" }))
            .collect();
        println!("attributes:   {}", attrs.join(", "));
        if let Some(chain) = &report.chain {
            for (i, c) in chain.iter().enumerate() {
                println!("chain {i}:      {c}");
            }
        }
        match (&report.code, &report.message) {
            (Some(code), Some(m)) => println!("verdict:      invalid [{code}] {m}"),
            _ => println!(
                "verdict:      valid{}",
                if report.chain.is_none() {
                    " (signature only: no --anchors, chain not checked)"
                } else {
                    ""
                }
            ),
        }
    }
    Ok(report.verdict == "valid")
}

fn run(command: Command) -> Result<(), Error> {
    match command {
        Command::Verify { .. } => unreachable!("handled in main"),
        Command::Revoke {
            dir,
            name,
            reason,
            delta,
        } => {
            use certs::devpki::crl;
            let manifest = devpki::Manifest::load(&dir)?;
            let entry = manifest
                .certificates
                .iter()
                .find(|e| e.name == name)
                .ok_or_else(|| {
                    Error::Malformed(format!("no certificate named {name} in {}", dir.display()))
                })?;
            let code = crl::reason_code(&reason).ok_or_else(|| {
                let known: Vec<&str> = crl::REASONS.iter().map(|(n, _)| *n).collect();
                Error::Malformed(format!(
                    "unknown reason {reason}; one of {}",
                    known.join(", ")
                ))
            })?;
            let serial = hex::decode(&entry.serial).map_err(|e| {
                Error::Malformed(format!(
                    "{name}: serial {} in the manifest: {e}",
                    entry.serial
                ))
            })?;
            let how = if delta {
                crl::Publish::Delta
            } else {
                crl::Publish::Base
            };
            crl::revoke(&dir, &serial, code, how, time::OffsetDateTime::now_utc())?;
            println!(
                "{name} (serial {}) revoked ({reason}); index.txt and {} updated",
                entry.serial,
                if delta {
                    "delta.pem/delta.der"
                } else {
                    "crl.pem/crl.der and delta.pem/delta.der"
                }
            );
            Ok(())
        }
        Command::Init {
            out,
            force,
            ocsp_url,
            crl_url,
            password,
        } => {
            let opts = Options {
                out: out.clone(),
                force,
                ocsp_url,
                crl_url,
                password,
                bulk: 0,
            };
            let manifest = devpki::init(&opts)?;
            println!("Development PKI written to {}", out.display());
            println!("  trust anchor    {}", manifest.trust.root);
            println!("  issuing CA      {}", manifest.trust.issuing_ca);
            println!(
                "  OCSP responder  {} (key {}), URL {}",
                manifest.trust.ocsp_responder, manifest.trust.ocsp_key, manifest.ocsp_url
            );
            println!(
                "  CRL             {} / {}, URL {}",
                manifest.trust.crl, manifest.trust.crl_der, manifest.crl_url
            );
            println!("  OCSP index      {}", manifest.trust.index);
            println!(
                "\n  {:<22} {:<12} {:<27} password",
                "certificate", "key", "expected"
            );
            for e in &manifest.certificates {
                println!(
                    "  {:<22} {:<12} {:<27} {}",
                    e.name, e.key_type, e.expected, e.password
                );
            }
            println!(
                "\nEvery file, its purpose and password: {}",
                out.join("manifest.json").display()
            );
            Ok(())
        }
        Command::Show {
            file,
            password,
            json,
        } => {
            let bytes = load::read_file(&file)?;
            let name = file.display().to_string();
            let ders = load::certificates(&bytes, &name, password.as_deref())?;
            let summaries = ders
                .iter()
                .map(|d| CertificateSummary::from_der(d))
                .collect::<Result<Vec<_>, _>>()?;
            if json {
                let value = if summaries.len() == 1 {
                    serde_json::to_string_pretty(&summaries[0])
                } else {
                    serde_json::to_string_pretty(&summaries)
                };
                println!("{}", value.expect("summary serialises"));
            } else {
                for (i, s) in summaries.iter().enumerate() {
                    if i > 0 {
                        println!();
                    }
                    print!("{}", render(s));
                }
            }
            Ok(())
        }
    }
}

fn render(s: &CertificateSummary) -> String {
    use std::fmt::Write;
    let id = &s.identity;
    let mut out = String::new();
    let mut line = |label: &str, value: &str| {
        let _ = writeln!(out, "{label:<16}{value}");
    };
    let kind = match id.kind {
        certs::SubjectKind::Person => "person",
        certs::SubjectKind::Organisation => "organisation",
    };
    line("Subject", &s.subject);
    line("Kind", kind);
    for (label, value) in [
        ("Full name", &id.full_name),
        ("Surname", &id.surname),
        ("Given name", &id.given_name),
        ("Patronymic", &id.patronymic),
        ("Title", &id.title),
        ("Locality", &id.locality),
    ] {
        if let Some(v) = value {
            line(label, v);
        }
    }
    for (i, nid) in id.national_ids.iter().enumerate() {
        let note = if i == 0 { "  (account key)" } else { "" };
        line(
            "National id",
            &format!("{} {} {}{note}", nid.kind.as_str(), nid.country, nid.value),
        );
    }
    if id.kind == certs::SubjectKind::Person && id.national_ids.is_empty() {
        line(
            "National id",
            "none (account key falls back to issuer + serial)",
        );
    }
    if let Some(org) = &id.organisation {
        let ident = org
            .identifier
            .as_ref()
            .map(|i| format!(" ({} {} {})", i.kind.as_str(), i.country, i.value))
            .unwrap_or_default();
        line(
            "Organisation",
            &format!("{}{ident}", org.name.as_deref().unwrap_or("—")),
        );
    }
    line("Issuer", s.issuer_name.as_deref().unwrap_or(&s.issuer));
    line("Serial", &s.serial);
    line("Valid", &format!("{} to {}", s.not_before, s.not_after));
    line("Key", &s.key_algorithm);
    line(
        "Key usage",
        &if s.key_usage.is_empty() {
            "—".to_string()
        } else {
            s.key_usage.join(", ")
        },
    );
    let purpose = match s.purpose {
        certs::Purpose::Signing => "signing",
        certs::Purpose::KeyAgreement => "key agreement (encryption): not for signing",
        certs::Purpose::CertificateAuthority => "certification authority",
        certs::Purpose::Unspecified => "unspecified (no keyUsage)",
        certs::Purpose::Other => "none a person can sign with",
    };
    line("Purpose", purpose);
    let q = &s.qualified;
    let mut marks = Vec::new();
    if q.qc_compliance {
        marks.push("QcCompliance".to_string());
    }
    if q.qc_sscd {
        marks.push("QcSSCD".to_string());
    }
    if q.ua_qualified {
        marks.push("UA qualified statement".to_string());
    }
    for t in &q.qc_types {
        marks.push(format!(
            "QcType {}",
            match t {
                certs::QcType::Esign => "esign",
                certs::QcType::Eseal => "eseal",
                certs::QcType::Web => "web",
                certs::QcType::Other(o) => o,
            }
        ));
    }
    if q.ua_qualified_policy {
        marks.push("UA qualified policy".to_string());
    }
    let verdict = if s.purpose == certs::Purpose::CertificateAuthority && q.is_qualified() {
        "qualified trust service CA"
    } else if q.is_qualified_esign() {
        "yes, for electronic signatures"
    } else if q.is_qualified() {
        "yes, but not for a person's signature (seal or website)"
    } else {
        "no"
    };
    let detail = if marks.is_empty() {
        String::new()
    } else {
        format!(" ({})", marks.join(", "))
    };
    line("Qualified", &format!("{verdict}{detail}"));
    line("SHA-256", &s.sha256);
    out
}
