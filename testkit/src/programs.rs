//! The workspace's built programs, for tests that run them as processes from another
//! package than their own (Cargo gives `CARGO_BIN_EXE_*` only to a program's own package).

use std::path::PathBuf;

/// The path of the built program `name` (`brama-agent`, …) in this build's target folder.
/// `cargo test --workspace` builds every program before any test runs; a test run of one
/// package alone must build it first (cargo holds the build lock while tests run, so a test
/// cannot build it itself).
pub fn program(package: &str, name: &str) -> PathBuf {
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let exe = std::env::current_exe().expect("the test's own path");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build -p {package} --bin {name}` first",
        path.display()
    );
    path
}
