//! End to end, as the demo runs it: agent → gateway → demo cabinet, on free ports.

use brama_tests::demo::{self, Ports};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_signs_in_through_agent_and_gateway_and_is_greeted() {
    let dir = tempfile::tempdir().unwrap();
    let ports = Ports {
        gateway_host: "localhost",
        gateway: free_port(),
        backend: 0,
        agent: 0,
        start_agent: true,
        admin: 0,
    };
    let d = demo::start(dir.path(), &ports).await.unwrap();
    let page = demo::sign_in(&d, "citizen-p256", &d.password)
        .await
        .unwrap();
    assert!(page.contains("Вітаємо, Тарас Шевченко!"), "{page}");
    assert!(page.contains("Роль: громадянин"), "{page}");
    assert!(
        page.contains("id=\"complete-profile\"") && page.contains("новий обліковий запис"),
        "a new account is asked for city and phone: {page}"
    );

    // The second sign-in opens the same account: no "new account" prompt this time.
    let again = demo::sign_in(&d, "citizen-p256", &d.password)
        .await
        .unwrap();
    assert!(again.contains("Вітаємо, Тарас Шевченко!"));
    assert!(!again.contains("новий обліковий запис"), "{again}");

    // The DSTU citizen (a GOST PKCS#12 with the key alone, its certificate beside it) signs in
    // the same way, with the same password.
    let dstu = demo::sign_in(&d, "dstu-citizen", &d.password)
        .await
        .unwrap();
    assert!(dstu.contains("Вітаємо, Григорій Сковорода!"), "{dstu}");

    // The demo checks revocation (fail-closed, the dev PKI's CRL and delta CRL): the revoked
    // test key is refused with its code.
    let refused = demo::sign_in(&d, "revoked", &d.password).await.unwrap_err();
    assert!(refused.contains("certificate_revoked"), "{refused}");

    // A wrong password on the agent's page never signs.
    let wrong = demo::sign_in(&d, "citizen-p384", "not-the-password").await;
    assert!(wrong.is_err_and(|e| e.contains("approval refused")));
    d.gateway.stop().await;
    d.agent.unwrap().stop().await;
}

/// `--help` prints usage and starts nothing (it once started the whole demo and rewrote
/// `target/demo/`); an unknown argument is an error. The same holds for every program.
#[test]
fn help_prints_usage_and_starts_nothing() {
    for (package, name) in [
        ("brama-tests", "brama-demo"),
        ("agent", "brama-agent"),
        ("gateway", "brama-gateway"),
        ("certs", "brama-certs"),
    ] {
        let program = brama_testkit::programs::program(package, name);
        let out = std::process::Command::new(&program)
            .arg("--help")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name} --help");
        assert!(text.contains("Usage:"), "{name}: {text}");
        let out = std::process::Command::new(&program)
            .arg("--no-such-option")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{name} refuses an unknown argument"
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-option"));
    }
}
