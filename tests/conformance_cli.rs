//! `alien conformance` through the CLI: the engine under every profile, each column judged by
//! its platform's facts; the peer columns are in conformance_peers.rs.

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn alien(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_alien"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run alien");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every case's facts hold on each profile where the case applies.
#[test]
fn emulator_column() {
    let (code, stdout, stderr) = alien(&["conformance"]);
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!(stdout);
}

#[test]
fn unknown_case_or_target_is_unusable_input() {
    let (code, _, stderr) = alien(&["conformance", "no-such-case"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no case named 'no-such-case' (cases: queue-roundtrip"),
        "{stderr}"
    );
    let (code, _, stderr) = alien(&["conformance", "--target", "gcp"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--target gcp: use one of emulator, emulator-aws, emulator-gcp"),
        "{stderr}"
    );
}
