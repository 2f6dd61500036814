//! The whole login (design.md §4 steps 1–8) against a real SQLite store: sessions,
//! single-use challenges bound to one browser, accounts, blocking and the audit log.

use brama_testkit::gateway as common;

use common::{Pki, ORIGIN};
use gateway::challenge::{self, Key, Keys};
use gateway::login::{self, Context};
use gateway::store::{KeyKind, Outcome, Role, Store};
use time::{Duration, OffsetDateTime};

fn keys() -> Keys {
    Keys {
        current: Key {
            id: 1,
            secret: zeroize::Zeroizing::new(vec![42; 32]),
        },
        previous: vec![],
    }
}

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("brama.db").display()
    ))
    .await
    .unwrap();
    (dir, store)
}

/// A dev PKI, a fresh SQLite store, challenge keys and the trust policy: what a login needs.
struct Setup {
    p: common::Pki,
    _db: tempfile::TempDir,
    store: Store,
    keys: Keys,
    verifier: gateway::verify::Verifier,
}

impl Setup {
    async fn new() -> Setup {
        let p = Pki::new();
        let (_db, store) = store().await;
        let verifier = gateway::verify::Verifier::new(p.policy());
        Setup {
            p,
            _db,
            store,
            keys: keys(),
            verifier,
        }
    }

    fn context(&self) -> Context<'_> {
        Context {
            revocation: None,
            public_origin: ORIGIN,
            keys: &self.keys,
            verifier: &self.verifier,
            store: &self.store,
            session_ttl: 3600,
            per_certificate: None,
        }
    }
}

#[tokio::test]
async fn a_login_registers_once_opens_a_session_and_is_audited() {
    let setup = Setup::new().await;
    let (p, store, keys, ctx) = (&setup.p, &setup.store, &setup.keys, setup.context());
    let now = OffsetDateTime::now_utc();
    let browser = challenge::new_browser_id();

    let (c, _) = keys.issue(&browser, "/cabinet/profile", now.unix_timestamp(), 300);
    let sig = p.sign_statement("citizen-p256", ORIGIN, &c);
    let ok = login::login(&ctx, &sig, Some(&browser), now).await.unwrap();
    assert_eq!(ok.outcome, Outcome::Registered);
    assert_eq!(ok.next, "/cabinet/profile");
    assert!(!ok.choose_role);
    assert_eq!(ok.account.key.kind.as_str(), "tax_number");
    assert_eq!(ok.account.names.surname.as_deref(), Some("Шевченко"));
    let session = store
        .session(&ok.session_id, now.unix_timestamp() + 10, 1800)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (session.account_id.as_str(), session.role.as_str()),
        (ok.account.id.as_str(), "citizen")
    );

    // The same signature again: the challenge is spent.
    let replay = login::login(&ctx, &sig, Some(&browser), now)
        .await
        .unwrap_err();
    assert_eq!(replay.code(), "challenge_replayed");

    // A second login, new challenge: same account, a new session id.
    let (c2, _) = keys.issue(&browser, "/", now.unix_timestamp(), 300);
    let again = login::login(
        &ctx,
        &p.sign_statement("citizen-p256", ORIGIN, &c2),
        Some(&browser),
        now,
    )
    .await
    .unwrap();
    assert_eq!(again.account.id, ok.account.id);
    assert_eq!(again.outcome, Outcome::Unchanged);
    assert_ne!(again.session_id, ok.session_id);

    let audit = store.recent_audit(10).await.unwrap();
    let outcomes: Vec<&str> = audit.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "ok").count(), 2);
    assert!(outcomes.contains(&"challenge_replayed"));
    assert!(
        audit
            .iter()
            .all(|a| !a.detail.as_deref().unwrap_or("").contains("Шевченко")),
        "no names in the audit detail"
    );
}

#[tokio::test]
async fn challenges_must_be_fresh_for_this_site_and_this_browser() {
    let setup = Setup::new().await;
    let (p, keys, ctx) = (&setup.p, &setup.keys, setup.context());
    let now = OffsetDateTime::now_utc();
    let browser = challenge::new_browser_id();

    let (c, _) = keys.issue(&browser, "/", now.unix_timestamp(), 300);
    let later = now + Duration::seconds(301);
    let e = login::login(
        &ctx,
        &p.sign_statement("citizen-p256", ORIGIN, &c),
        Some(&browser),
        later,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "challenge_expired");

    let (c, _) = keys.issue(&browser, "/", now.unix_timestamp(), 300);
    let e = login::login(
        &ctx,
        &p.sign_statement("citizen-p256", ORIGIN, &c),
        Some(&challenge::new_browser_id()),
        now,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "challenge_wrong_browser");
    let e = login::login(
        &ctx,
        &p.sign_statement("citizen-p256", ORIGIN, &c),
        None,
        now,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "challenge_wrong_browser");

    // A phishing page gets a statement for its own origin: refused, and its challenge unspent.
    let e = login::login(
        &ctx,
        &p.sign_statement("citizen-p256", "https://cabinet-example.evil", &c),
        Some(&browser),
        now,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "wrong_origin");
    let forged = "AAAA.BBBB";
    let e = login::login(
        &ctx,
        &p.sign_statement("citizen-p256", ORIGIN, forged),
        Some(&browser),
        now,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "challenge_invalid");
    // Garbage never burns a challenge: the real one still works after all of the above.
    let ok = login::login(
        &ctx,
        &p.sign_statement("citizen-p256", ORIGIN, &c),
        Some(&browser),
        now,
    )
    .await;
    assert!(ok.is_ok(), "{:?}", ok.err());
}

#[tokio::test]
async fn blocked_accounts_are_refused_and_lose_their_sessions() {
    let setup = Setup::new().await;
    let (p, store, keys, ctx) = (&setup.p, &setup.store, &setup.keys, setup.context());
    let now = OffsetDateTime::now_utc();
    let browser = challenge::new_browser_id();
    let fresh = || keys.issue(&browser, "/", now.unix_timestamp(), 300).0;

    let ok = login::login(
        &ctx,
        &p.sign_statement("representative-p256", ORIGIN, &fresh()),
        Some(&browser),
        now,
    )
    .await
    .unwrap();
    assert!(
        ok.choose_role,
        "an organisation's representative chooses a role"
    );
    assert!(ok
        .account
        .roles
        .iter()
        .any(|r| r.role == Role::Representative && r.org_key == "registration:UA:12345678"));

    store
        .set_blocked(
            &ok.account.id,
            Some("за зверненням власника"),
            now.unix_timestamp(),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .session(&ok.session_id, now.unix_timestamp(), 1800)
            .await
            .unwrap(),
        None,
        "blocking ends sessions"
    );
    let e = login::login(
        &ctx,
        &p.sign_statement("representative-p256", ORIGIN, &fresh()),
        Some(&browser),
        now,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "account_blocked");
    assert!(e.to_string().contains("за зверненням власника"), "{e}");

    store
        .set_blocked(&ok.account.id, None, now.unix_timestamp())
        .await
        .unwrap();
    assert!(login::login(
        &ctx,
        &p.sign_statement("representative-p256", ORIGIN, &fresh()),
        Some(&browser),
        now
    )
    .await
    .is_ok());
}

#[tokio::test]
async fn sessions_end_when_idle_or_old() {
    let (_db, store) = store().await;
    let reg = gateway::store::Registration {
        key: gateway::store::AccountKey {
            kind: KeyKind::Id(certs::IdKind::TaxNumber),
            country: "UA".into(),
            value: "1".into(),
        },
        names: Default::default(),
        certificate_sha256: "00".into(),
        issuer: "i".into(),
        serial: "s".into(),
        not_before: "t".into(),
        not_after: "t".into(),
        organisation: None,
        seal: false,
    };
    let (a, _) = store.find_or_register(&reg, 0).await.unwrap();
    let id = store
        .create_session(&a.id, Role::Citizen, "", 1000, 3600, false)
        .await
        .unwrap();
    assert!(store.session(&id, 1500, 600).await.unwrap().is_some());
    assert!(
        store.session(&id, 2000, 600).await.unwrap().is_some(),
        "touched at 1500, idle 500 s"
    );
    assert_eq!(
        store.session(&id, 2700, 600).await.unwrap(),
        None,
        "idle for 700 s"
    );
    let id = store
        .create_session(&a.id, Role::Citizen, "", 1000, 3600, false)
        .await
        .unwrap();
    for t in (1100..4600).step_by(300) {
        assert!(
            store.session(&id, t, 600).await.unwrap().is_some(),
            "active at {t}"
        );
    }
    assert_eq!(
        store.session(&id, 4600, 600).await.unwrap(),
        None,
        "absolute lifetime"
    );
    assert_eq!(
        store.session("not-a-session", 1000, 600).await.unwrap(),
        None
    );
    let id = store
        .create_session(&a.id, Role::Citizen, "", 1000, 3600, false)
        .await
        .unwrap();
    store.delete_session(&id).await.unwrap();
    assert_eq!(store.session(&id, 1001, 600).await.unwrap(), None, "logout");
}
