//! The binary explains itself and refuses to pretend it can do more.

use std::process::Command;

#[test]
fn help_describes_the_gateway() {
    let out = Command::new(env!("CARGO_BIN_EXE_brama-gateway"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for w in ["reverse proxy", "challenge", "qualified"] {
        assert!(help.contains(w), "--help does not mention '{w}':\n{help}");
    }
    let version = Command::new(env!("CARGO_BIN_EXE_brama-gateway"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("brama-gateway {}", env!("CARGO_PKG_VERSION"))
    );
    let bare = Command::new(env!("CARGO_BIN_EXE_brama-gateway"))
        .output()
        .unwrap();
    assert_eq!(bare.status.code(), Some(2));
}
