//! A login, start to end, as one plain function (the `/auth/login` handler stays thin):
//! design.md §4 steps 1–8 in order, one audit record per outcome.

use certs::SubjectKind;
use time::OffsetDateTime;

use crate::challenge::{Keys, Opened};
use crate::revocation::{Mode, Verdict};
use crate::store::{
    new_session, Account, AccountKey, AuditRecord, KeyKind, Names, NewSession, Outcome,
    Registration, Role, Store,
};
use crate::verify::Verifier;
use crate::LoginError;

/// What a login needs from the gateway.
pub struct Context<'a> {
    pub public_origin: &'a str,
    pub keys: &'a Keys,
    pub verifier: &'a Verifier,
    pub store: &'a Store,
    /// Absolute session lifetime, seconds.
    pub session_ttl: i64,
    /// Logins per certificate, counted after the signature verified.
    pub per_certificate: Option<&'a crate::limits::Limiter<String>>,
    /// Step 7; `None` when `[revocation] mode = "off"`.
    pub revocation: Option<&'a crate::revocation::Checker>,
}

#[derive(Debug)]
pub struct Success {
    /// The new session's cookie value (a new id at every login).
    pub session_id: String,
    pub account: Account,
    pub outcome: Outcome,
    /// Where to go: the local path sealed in the challenge.
    pub next: String,
    /// The certificate names an organisation: the user picks citizen or representative.
    pub choose_role: bool,
    /// Revocation could not be checked and `soft-fail` let the login through (why).
    pub revocation_soft_fail: Option<String>,
}

/// The account key of design.md §6: the best national identifier, else issuer + serial.
pub fn account_key(identity: &certs::Identity, issuer: &str, serial: &str) -> AccountKey {
    match identity.account_key() {
        Some(id) => AccountKey {
            kind: KeyKind::Id(id.kind),
            country: id.country.clone(),
            value: id.value.clone(),
        },
        None => AccountKey {
            kind: KeyKind::IssuerSerial,
            country: String::new(),
            value: format!("{issuer}#{serial}"),
        },
    }
}

/// Verify `signature` for the browser holding `browser_id` and open a session.
pub async fn login(
    ctx: &Context<'_>,
    signature: &[u8],
    browser_id: Option<&str>,
    now: OffsetDateTime,
) -> Result<Success, LoginError> {
    let at = now.unix_timestamp();
    let result = run(ctx, signature, browser_id, now).await;
    // The audit record: issuer and serial when the certificate was read, never names.
    let (outcome, (indication, sub), account, cert) = match &result {
        Ok((s, cert, _)) => (
            "ok",
            ("TOTAL-PASSED", ""),
            Some(s.account.id.clone()),
            Some(cert.clone()),
        ),
        Err((e, cert)) => (e.code(), e.etsi(), None, cert.clone()),
    };
    let detail = result.as_ref().err().map(|(e, _)| e.to_string());
    let record = AuditRecord {
        outcome,
        indication,
        sub_indication: sub,
        account_id: account.as_deref(),
        issuer: cert.as_ref().map(|c| c.0.as_str()),
        serial: cert.as_ref().map(|c| c.1.as_str()),
        detail: detail.as_deref(),
    };
    // A success's session is written with its audit record, so no session exists that the
    // audit log cannot account for; a refusal's record is written alone.
    let written = match result {
        Ok((success, _, session)) => ctx
            .store
            .open_session(session, &record, at)
            .await
            .map(|()| Ok(success)),
        Err((e, _)) => ctx.store.audit(&record, at).await.map(|()| Err(e)),
    };
    written.unwrap_or_else(|e| {
        tracing::error!("audit record not written: {e}");
        Err(LoginError::Internal("audit".into()))
    })
}

type Issued = (String, String);

async fn run(
    ctx: &Context<'_>,
    signature: &[u8],
    browser_id: Option<&str>,
    now: OffsetDateTime,
) -> Result<(Success, Issued, NewSession), (LoginError, Option<Issued>)> {
    let at = now.unix_timestamp();
    // Steps 1–5; step 2 (origin, challenge) runs before any costly work.
    let mut opened: Option<Opened> = None;
    let verified = ctx
        .verifier
        .verify_login(signature, now, |statement| {
            if statement.origin != ctx.public_origin {
                return Err(LoginError::WrongOrigin(statement.origin.clone()));
            }
            statement
                .check_time(at)
                .map_err(|e| LoginError::BadStatement(e.to_string()))?;
            opened = Some(ctx.keys.open(&statement.challenge, browser_id, at)?);
            Ok(())
        })
        .map_err(|e| (e, None))?;
    let summary = &verified.checked.summary;
    let cert = (summary.issuer.clone(), summary.serial.clone());
    let fail = |e: LoginError| (e, Some(cert.clone()));
    let opened = opened.expect("the statement check ran");

    // Counted only now that the signature verified: nobody can lock a victim out.
    if let Some(limiter) = ctx.per_certificate {
        limiter
            .check(summary.sha256.clone(), at)
            .map_err(|wait| fail(LoginError::RateLimited(wait)))?;
    }
    // Step 6: the challenge is used once, across every node sharing the database.
    let first = ctx
        .store
        .consume_challenge(&opened.nonce, opened.expires_at, at)
        .await
        .map_err(|e| fail(LoginError::Internal(e.to_string())))?;
    if !first {
        return Err(fail(LoginError::ChallengeReplayed));
    }
    // Step 7: revocation.
    let mut revocation_soft_fail = None;
    if let (Some(checker), [leaf, issuer, ..]) = (ctx.revocation, &verified.checked.chain[..]) {
        let sources = &verified.checked.crl_sources;
        match checker.check_with(leaf, issuer, sources, at).await {
            Verdict::Good { .. } => {}
            Verdict::Revoked {
                at: when,
                reason,
                source,
            } => {
                let when = if when > 0 {
                    format!(" since {}", crate::revocation::rfc3339(when))
                } else {
                    String::new()
                };
                return Err(fail(LoginError::CertificateRevoked(format!(
                    "{when} ({reason}, {source})"
                ))));
            }
            Verdict::Unavailable(why) if checker.settings.mode == Mode::SoftFail => {
                let record = AuditRecord {
                    outcome: "revocation_soft_fail",
                    indication: "INDETERMINATE",
                    sub_indication: "TRY_LATER",
                    account_id: None,
                    issuer: Some(&cert.0),
                    serial: Some(&cert.1),
                    detail: Some(&why),
                };
                ctx.store
                    .audit(&record, at)
                    .await
                    .map_err(|e| fail(LoginError::Internal(e.to_string())))?;
                revocation_soft_fail = Some(why);
            }
            Verdict::Unavailable(why) => return Err(fail(LoginError::RevocationUnavailable(why))),
        }
    }

    // Step 8: find or register the account.
    let id = &summary.identity;
    // Only with `trust.persons_only = false` does an organisation's seal get here.
    let seal = id.kind != SubjectKind::Person;
    let organisation = id.organisation.as_ref().and_then(|o| {
        o.identifier
            .as_ref()
            .map(|i| (i.to_string(), o.name.clone()))
    });
    let org_id = id.organisation.as_ref().and_then(|o| o.identifier.as_ref());
    let key = match (seal, org_id) {
        // A seal's account is the organisation's: keyed by its registration number.
        (true, Some(reg)) => AccountKey {
            kind: KeyKind::Id(reg.kind),
            country: reg.country.clone(),
            value: reg.value.clone(),
        },
        _ => account_key(id, &summary.issuer, &summary.serial),
    };
    let registration = Registration {
        key,
        seal,
        names: Names {
            surname: id.surname.clone(),
            given_name: id.given_name.clone(),
            patronymic: id.patronymic.clone(),
            full_name: if seal {
                Some(id.display_name())
            } else {
                id.full_name.clone()
            },
        },
        certificate_sha256: summary.sha256.clone(),
        issuer: summary.issuer.clone(),
        serial: summary.serial.clone(),
        not_before: summary.not_before.clone(),
        not_after: summary.not_after.clone(),
        organisation: organisation.clone(),
    };
    let (account, outcome) = ctx
        .store
        .find_or_register(&registration, at)
        .await
        .map_err(|e| fail(LoginError::Internal(e.to_string())))?;
    if let Some(reason) = &account.blocked_reason {
        return Err(fail(LoginError::AccountBlocked(reason.clone())));
    }
    if let Outcome::NamesUpdated(old) = &outcome {
        let detail = format!(
            "names updated from the newer certificate (was {})",
            old.full_name.as_deref().unwrap_or("—")
        );
        let record = AuditRecord {
            outcome: "names_updated",
            indication: "TOTAL-PASSED",
            sub_indication: "",
            account_id: Some(&account.id),
            issuer: Some(&cert.0),
            serial: Some(&cert.1),
            detail: Some(&detail),
        };
        ctx.store
            .audit(&record, at)
            .await
            .map_err(|e| fail(LoginError::Internal(e.to_string())))?;
    }
    // Written by `login` together with the audit record.
    let (session_id, session) = new_session(
        &account.id,
        if seal {
            Role::Representative
        } else {
            Role::Citizen
        },
        if seal {
            organisation.as_ref().map_or("", |(k, _)| k.as_str())
        } else {
            ""
        },
        at,
        ctx.session_ttl,
        outcome == Outcome::Registered,
    );
    Ok((
        Success {
            session_id,
            choose_role: organisation.is_some() && !seal,
            revocation_soft_fail,
            account,
            outcome,
            next: opened.next,
        },
        cert,
        session,
    ))
}
