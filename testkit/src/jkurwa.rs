//! jkurwa (npm), the independent DSTU 4145 peer, as the tests drive it: `node
//! tests/dstu-peer/peer.js COMMAND ARGS…` prints one JSON line (see the script for the
//! commands). `./test.sh` installs it (`npm ci` in tests/dstu-peer).

use std::path::PathBuf;
use std::process::Command;

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A file of `fixtures/` (real material made by others).
pub fn fixture(path: &str) -> Vec<u8> {
    let p = root().join("fixtures").join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Runs the peer and returns its JSON answer; a failure of the peer fails the test with its
/// message.
pub fn run(args: &[&str]) -> serde_json::Value {
    let peer = root().join("tests/dstu-peer");
    assert!(
        peer.join("node_modules/jkurwa").is_dir(),
        "jkurwa is not installed: run ./test.sh, or `npm ci` in {}",
        peer.display()
    );
    let out = Command::new("node")
        .arg(peer.join("peer.js"))
        .args(args)
        .output()
        .expect("node runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "jkurwa {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}
