//! The binary explains itself and refuses to pretend it can do more.

use std::process::Command;

#[test]
fn help_describes_the_agent() {
    let out = Command::new(env!("CARGO_BIN_EXE_brama-agent"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for w in ["signing agent", "127.0.0.1", "PKCS#12", "PKCS#11"] {
        assert!(help.contains(w), "--help does not mention '{w}':\n{help}");
    }
    let version = Command::new(env!("CARGO_BIN_EXE_brama-agent"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("brama-agent {}", env!("CARGO_PKG_VERSION"))
    );
    let bare = Command::new(env!("CARGO_BIN_EXE_brama-agent"))
        .output()
        .unwrap();
    assert_eq!(bare.status.code(), Some(2));
}
