//! Every code the gateway can answer has words on its pages in Ukrainian, English and
//! Russian (issue 16, item 8): the codes are read from the exhaustive `code()` matches of
//! `LoginError` and `GatewayError`, the words from `pages/i18n.js` as node loads it.

use std::collections::BTreeSet;
use std::process::Command;

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The codes of every `fn code(&self)` in error.rs: each match is exhaustive, so each variant
/// has its arm there.
fn codes() -> BTreeSet<String> {
    let source = std::fs::read_to_string(root().join("src/error.rs")).unwrap();
    let mut codes = BTreeSet::new();
    for (at, _) in source.match_indices("pub fn code(&self)") {
        let body = &source[at..];
        let body = &body[..body.find("\n    }\n").unwrap()];
        for arm in body.split("=> \"").skip(1) {
            codes.insert(arm.split('"').next().unwrap().to_string());
        }
    }
    codes
}

#[test]
fn every_gateway_code_has_words_in_each_language() {
    let codes = codes();
    assert!(codes.len() >= 40, "both enums read: {codes:?}");
    let out = Command::new("node")
        .arg("--input-type=module")
        .arg("-e")
        .arg(format!(
            "import {{ GATEWAY }} from {:?}; console.log(JSON.stringify(GATEWAY));",
            format!("file://{}", root().join("pages/i18n.js").display())
        ))
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut missing = Vec::new();
    for code in &codes {
        match table[code].as_array() {
            Some(words) if words.len() == 3 => {
                let texts: BTreeSet<&str> = words.iter().filter_map(|w| w.as_str()).collect();
                assert_eq!(
                    texts.len(),
                    3,
                    "{code}: one text per language, all different"
                );
                assert!(!texts.iter().any(|t| t.is_empty()), "{code}: an empty text");
            }
            _ => missing.push(code.clone()),
        }
    }
    assert!(missing.is_empty(), "no uk/en/ru words for {missing:?}");
}

#[test]
fn the_download_address_must_be_a_page() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gateway.toml");
    for (value, ok) in [
        ("https://portal.example/agent", true),
        ("/help/agent", true),
        ("//evil.example/x", false),
        ("javascript:alert(1)", false),
        ("https://x.example/\" onload=\"x", false),
    ] {
        let text = format!(
            "agent_download_url = {value:?}\npublic_origin = \"https://cabinet.example\"\nbackend = \"http://127.0.0.1:1\"\n[trust]\nanchors = []\n"
        );
        std::fs::write(&file, text).unwrap();
        // The rest of this file is incomplete on purpose: only the download address is judged.
        let e = gateway::config::Config::load(Some(&file)).unwrap_err();
        assert_eq!(e.key == "agent_download_url", !ok, "{value}: {e}");
    }
}
