//! Hardware tokens through PKCS#11, on a real SoftHSM2 token made fresh for each test in its
//! own `SOFTHSM2_CONF` folder: dev-PKI keys imported with `softhsm2-util`, certificates with
//! `pkcs11-tool`. The agent's helper runs through a small wrapper script that gives it that
//! configuration (and, for one test, a pause before signing and its process id).
#![allow(unsafe_code)] // libc::kill: the test kills the token helper mid-signature

use brama_testkit::agent as common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{b64, openssl_verify, Agent, PAGE};
use gateway::verify::chain::TrustPolicy;
use reqwest::StatusCode;
use serde_json::{json, Value};

const PIN: &str = "246810";
const SO_PIN: &str = "13579135";

/// Debian's SoftHSM2 module.
fn softhsm_module() -> PathBuf {
    [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .expect("SoftHSM2 (apt install softhsm2)")
}

struct SoftHsm {
    dir: tempfile::TempDir,
    conf: PathBuf,
    /// The helper program the agent runs: sets SOFTHSM2_CONF, records its pid.
    helper: PathBuf,
}

impl SoftHsm {
    fn new(pause_ms: u64) -> SoftHsm {
        SoftHsm::run_by(
            pause_ms,
            brama_testkit::programs::program("agent", "brama-agent"),
        )
    }

    /// With `program` (a program that embeds the agent) as the helper the agent runs.
    fn run_by(pause_ms: u64, program: PathBuf) -> SoftHsm {
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let helper = dir.path().join("helper.sh");
        std::fs::write(
            &helper,
            format!(
                "#!/bin/sh\necho $$ > {pid}\nSOFTHSM2_CONF={conf} BRAMA_PKCS11_HELPER_PAUSE_MS={pause_ms} exec {exe} \"$@\"\n",
                pid = dir.path().join("helper.pid").display(),
                conf = conf.display(),
                exe = program.display(),
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        SoftHsm { dir, conf, helper }
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let out = Command::new(program)
            .env("SOFTHSM2_CONF", &self.conf)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn init_token(&self, label: &str) {
        self.run(
            "softhsm2-util",
            &[
                "--init-token",
                "--free",
                "--label",
                label,
                "--so-pin",
                SO_PIN,
                "--pin",
                PIN,
            ],
        );
    }

    /// Put a dev-PKI entry's key (from its encrypted PKCS#8 file) and certificate on `token`.
    fn import(&self, a: &Agent, token: &str, name: &str, id: &str) {
        let e = a.manifest.certificate(name).unwrap();
        let key = a.pki.join(&e.key);
        self.run(
            "softhsm2-util",
            &[
                "--import",
                key.to_str().unwrap(),
                "--file-pin",
                &e.password,
                "--token",
                token,
                "--label",
                name,
                "--id",
                id,
                "--pin",
                PIN,
            ],
        );
        let der = a.pki.join(&e.certificate_der);
        self.run(
            "pkcs11-tool",
            &[
                "--module",
                softhsm_module().to_str().unwrap(),
                "--token-label",
                token,
                "--login",
                "--pin",
                PIN,
                "--write-object",
                der.to_str().unwrap(),
                "--type",
                "cert",
                "--id",
                id,
                "--label",
                name,
            ],
        );
    }

    fn delete_token(&self, label: &str) {
        self.run("softhsm2-util", &["--delete-token", "--token", label]);
    }

    fn helper_pid(&self) -> i32 {
        std::fs::read_to_string(self.dir.path().join("helper.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

/// An agent whose only PKCS#11 module is SoftHSM2 (through `hsm`'s helper), plus `extra`.
async fn agent(hsm: &SoftHsm, extra: Vec<PathBuf>) -> Agent {
    let helper = hsm.helper.clone();
    Agent::start(move |c| {
        c.pkcs11_modules = [vec![softhsm_module()], extra].concat();
        c.pkcs11_helper = Some(helper);
    })
    .await
}

/// A fresh token `brama-token` holding dev-PKI entry `name` under CKA_ID `id`, an agent that
/// sees it, and its container as listed.
async fn one_token(pause_ms: u64, name: &str, id: &str) -> (SoftHsm, Agent, Value) {
    let hsm = SoftHsm::new(pause_ms);
    hsm.init_token("brama-token");
    let a = agent(&hsm, vec![]).await;
    hsm.import(&a, "brama-token", name, id);
    let c = token_container(&a, name).await;
    (hsm, a, c)
}

fn tokens_of(list: &Value) -> Vec<Value> {
    list["containers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "token")
        .cloned()
        .collect()
}

/// The demo embeds the agent, whose helper is its own executable by default: `brama-demo`
/// must act as the PKCS#11 helper (it once started a second demo instead, so tokens never
/// worked in the demo).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_program_serves_as_the_agents_pkcs11_helper() {
    let hsm = SoftHsm::run_by(
        0,
        brama_testkit::programs::program("brama-tests", "brama-demo"),
    );
    hsm.init_token("demo-token");
    let a = agent(&hsm, vec![]).await;
    hsm.import(&a, "demo-token", "citizen-p256", "01");
    let c = token_container(&a, "citizen-p256").await;
    assert!(c["medium"].as_str().unwrap().contains("SoftHSM"), "{c}");
}

/// The token container holding dev-PKI entry `label`.
async fn token_container(a: &Agent, label: &str) -> Value {
    let list = a.containers_as_approved().await;
    tokens_of(&list)
        .into_iter()
        .find(|c| c["label"] == label)
        .unwrap_or_else(|| panic!("{label} not on a token: {list}"))
}

fn policy(pki: &Path) -> TrustPolicy {
    let pem =
        |f: &str| openssl::x509::X509::from_pem(&std::fs::read(pki.join(f)).unwrap()).unwrap();
    TrustPolicy::new(vec![pem("root.pem")], vec![pem("ica.pem")])
}

async fn info(a: &Agent) -> Value {
    a.get("/v1/info", None).await.json().await.unwrap()
}

fn module_status<'a>(info: &'a Value, module: &Path) -> &'a Value {
    info["diagnostics"]["pkcs11_modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["module"] == module.to_str().unwrap())
        .unwrap_or_else(|| panic!("{} not in {info}", module.display()))
}

#[tokio::test]
async fn a_token_key_signs_a_login_the_gateway_accepts_and_a_document_openssl_verifies() {
    let hsm = SoftHsm::new(0);
    hsm.init_token("brama-token");
    let a = agent(&hsm, vec![]).await;
    hsm.import(&a, "brama-token", "citizen-p256", "01");
    hsm.import(&a, "brama-token", "citizen-rsa2048", "02");

    let c = token_container(&a, "citizen-p256").await;
    let medium = c["medium"].as_str().unwrap();
    assert!(
        medium.starts_with("token: SoftHSM project SoftHSM v2 "),
        "{medium}"
    );
    assert_eq!(c["locked"], true);
    assert_eq!(c["state"], "needs_unlock");
    assert_eq!(c["certificates"][0]["name"], "Шевченко Тарас Григорович");
    assert!(c["id"].as_str().unwrap().starts_with("t-"));
    // The PKCS#12 files are still there beside the token.
    let list = a.containers_as_approved().await;
    assert!(list["containers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["kind"] == "pkcs12"));

    // A login statement, signed on the token (ECDSA), verified by the gateway's verifier.
    let done = a
        .approved(
            "/v1/authenticate",
            json!({ "container": c["id"], "challenge": "token-challenge-1" }),
            PIN,
        )
        .await;
    let der = b64(done["result"]["signature"].as_str().unwrap());
    let verified = gateway::verify::Verifier::new(policy(&a.pki))
        .verify_login(&der, time::OffsetDateTime::now_utc(), |s| {
            assert_eq!(s.origin, PAGE);
            assert_eq!(s.challenge, "token-challenge-1");
            Ok(())
        })
        .expect("the gateway accepts a token's login signature");
    assert_eq!(
        verified.certificate,
        std::fs::read(
            a.pki.join(
                &a.manifest
                    .certificate("citizen-p256")
                    .unwrap()
                    .certificate_der
            )
        )
        .unwrap()
    );

    // A document, signed on the token (RSA PKCS#1 v1.5 over a DigestInfo), checked by openssl.
    let rsa = token_container(&a, "citizen-rsa2048").await;
    let doc = "Заява про реєстрацію.".as_bytes();
    let done = a
        .approved(
            "/v1/sign",
            json!({
                "container": rsa["id"], "name": "zayava.txt",
                "content": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, doc),
            }),
            PIN,
        )
        .await;
    let content = openssl_verify(
        &a.pki,
        &b64(done["result"]["signature"].as_str().unwrap()),
        None,
    );
    assert_eq!(content, doc);

    // A token's PIN is never remembered: the next request needs it again.
    let pending = a.pending_login(c["id"].as_str().unwrap(), "again").await;
    let page = a.page(pending["approve_url"].as_str().unwrap()).await;
    assert!(page.contains("PIN-код токена"), "{page}");
    assert!(!page.contains("name=\"remember\""), "{page}");
}

#[tokio::test]
async fn a_wrong_pin_is_refused_and_the_right_one_then_signs() {
    let (_hsm, a, c) = one_token(0, "citizen-p384", "0a").await;

    let pending = a.pending_login(c["id"].as_str().unwrap(), "pin-test").await;
    let url = pending["approve_url"].as_str().unwrap();
    let (status, html) = a.answer(url, "approve", "000000", false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html.contains("data-code=\"wrong_password\""), "{html}");
    // Still pending: the person may retry (after the agent's one-second back-off).
    let r = a.poll(pending["request"].as_str().unwrap(), PAGE).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, html) = a.answer(url, "approve", PIN, false).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let r = a.poll(pending["request"].as_str().unwrap(), PAGE).await;
    let done: Value = r.json().await.unwrap();
    let der = b64(done["result"]["signature"].as_str().unwrap());
    let signed = certs::cms::parse(&der).unwrap();
    let statement = certs::statement::LoginStatement::parse(signed.content.unwrap()).unwrap();
    assert_eq!(statement.challenge, "pin-test");
}

#[tokio::test]
async fn a_removed_token_leaves_the_list_and_a_new_one_joins_it_without_a_restart() {
    let hsm = SoftHsm::new(0);
    hsm.init_token("first");
    let a = agent(&hsm, vec![]).await;
    hsm.import(&a, "first", "citizen-p256", "01");
    token_container(&a, "citizen-p256").await;

    // Listing goes through the helper at most once a second: wait for the change to show.
    async fn until(a: &Agent, what: &str, ok: impl Fn(&[Value]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let list = a.containers_as_approved().await;
            if ok(&tokens_of(&list)) {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: {list}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    hsm.init_token("second");
    hsm.import(&a, "second", "representative-p256", "07");
    until(&a, "the new token shows", |t| t.len() == 2).await;
    hsm.delete_token("first");
    until(&a, "the removed token goes", |t| {
        t.len() == 1 && t[0]["label"] == "representative-p256"
    })
    .await;
}

#[tokio::test]
async fn a_module_that_is_not_pkcs11_is_a_diagnostic_and_the_rest_keeps_working() {
    let hsm = SoftHsm::new(0);
    hsm.init_token("brama-token");
    let not_a_library = hsm.dir.path().join("not-a-module.so");
    std::fs::write(&not_a_library, b"this is not a shared library").unwrap();
    // A real shared library without the PKCS#11 entry points: the C library this test runs on.
    let libc = std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains("/libc.so"))
        .map(PathBuf::from)
        .expect("libc in /proc/self/maps");
    let a = agent(&hsm, vec![not_a_library.clone(), libc.clone()]).await;
    hsm.import(&a, "brama-token", "citizen-p256", "01");

    let list = a.containers_as_approved().await;
    assert!(list["containers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["kind"] == "pkcs12"));
    assert_eq!(
        tokens_of(&list).len(),
        1,
        "SoftHSM2's token is listed: {list}"
    );

    let info = info(&a).await;
    for (module, says) in [
        (&not_a_library, "not a loadable library"),
        (&libc, "not a PKCS#11 library"),
    ] {
        let m = module_status(&info, module);
        assert_eq!(m["state"], "failed", "{info}");
        assert!(m["error"].as_str().unwrap().contains(says), "{info}");
    }
    let good = module_status(&info, &softhsm_module());
    assert_eq!(good["state"], "ready", "{info}");
    assert!(
        good["library"].as_str().unwrap().contains("SoftHSM"),
        "{info}"
    );

    // Diagnostics are for the user and approved pages only.
    let r = a.get("/v1/info", Some("https://stranger.example")).await;
    let v: Value = r.json().await.unwrap();
    assert!(v.get("diagnostics").is_none(), "{v}");
}

#[tokio::test]
async fn a_helper_killed_mid_signature_is_reported_and_replaced() {
    // The helper waits 2 s before each signature: time to stop it in the middle.
    let (hsm, a, c) = one_token(2000, "citizen-p256", "01").await;

    let pending = a.pending_login(c["id"].as_str().unwrap(), "killed").await;
    let url = pending["approve_url"].as_str().unwrap().to_string();
    let (http, own) = (a.http.clone(), format!("http://127.0.0.1:{}", a.port));
    let approval =
        tokio::spawn(async move { common::answer(&http, &url, &own, "approve", PIN, false).await });
    tokio::time::sleep(Duration::from_millis(700)).await;
    let pid = hsm.helper_pid();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let (status, html) = approval.await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{html}");
    assert!(html.contains("data-code=\"token_unavailable\""), "{html}");

    let info = info(&a).await;
    let m = module_status(&info, &softhsm_module());
    assert_eq!(m["state"], "failed", "{info}");
    assert!(m["error"].as_str().unwrap().contains("stopped"), "{info}");

    // The agent is fine, and the next use starts a new helper.
    let again = token_container(&a, "citizen-p256").await;
    assert_eq!(again["id"], c["id"]);
    assert_ne!(hsm.helper_pid(), pid, "a new helper");
    let info = self::info(&a).await;
    assert_eq!(
        module_status(&info, &softhsm_module())["state"],
        "ready",
        "{info}"
    );
    let pending = a.pending_login(c["id"].as_str().unwrap(), "after").await;
    let (status, html) = a
        .answer(
            pending["approve_url"].as_str().unwrap(),
            "approve",
            PIN,
            false,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
}
