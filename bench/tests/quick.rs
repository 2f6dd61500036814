//! `brama-bench --quick` end to end, so the bench cannot rot: every scenario runs (a few
//! seconds in all, debug binaries) and prints its row. The figures are not checked: CI
//! machines are too noisy for numbers, only for "it still works".

use std::process::Command;

#[test]
fn the_quick_bench_runs_every_scenario_and_prints_the_table() {
    let bench = env!("CARGO_BIN_EXE_brama-bench");
    let bin_dir = std::path::Path::new(bench).parent().unwrap();
    // brama-gateway is another package's binary: cargo builds it for the workspace's tests.
    assert!(
        bin_dir.join("brama-gateway").exists(),
        "build the gateway first: cargo build -p gateway"
    );
    let md = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new(bench)
        .arg("--quick")
        .arg("--markdown")
        .arg(md.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for row in [
        "forwarding: backend direct",
        "forwarding: nginx proxy_pass, 1 worker(s)",
        "forwarding: brama-gateway with a session, 1 worker(s)",
        "forwarding: brama-gateway with a session, 2 worker(s)",
        "login verification:",
        "agent: /v1/authenticate",
        "memory: gateway RSS with 500 sessions",
        "memory: gateway RSS after",
    ] {
        assert!(text.contains(row), "no '{row}' row in:\n{text}");
    }
    assert!(
        text.contains("of nginx") && text.contains("two-verify ceiling"),
        "{text}"
    );
    let markdown = std::fs::read_to_string(md.path()).unwrap();
    assert!(
        markdown.starts_with("Brama benchmark, ") && markdown.contains("| scenario |"),
        "{markdown}"
    );
}
