//! `examples/portable-queue`: the same program, written only against `QueueProvider`, runs
//! against `alien emulate` (its SQS endpoint, AWS adapter) and against Google's Pub/Sub
//! emulator (GCP adapter, started by scripts/peers/pubsub.sh; `ALIEN_PUBSUB_EMULATOR_URL`),
//! with nothing but `QUEUE_TARGET` changed.
#![cfg(all(feature = "aws", feature = "gcp"))]

mod common;

use std::path::PathBuf;
use std::process::Command;

/// The example's executable, built next to `alien` by the test build.
fn example() -> PathBuf {
    let alien = PathBuf::from(env!("CARGO_BIN_EXE_alien"));
    let exe = alien
        .parent()
        .expect("alien's directory")
        .join("examples/portable-queue");
    assert!(
        exe.exists(),
        "{} is missing: build it with `cargo build --example portable-queue --features aws,gcp`",
        exe.display()
    );
    exe
}

/// Runs the example against `target`: exit code and stdout.
fn run_example(target: &str) -> (Option<i32>, String) {
    let out = Command::new(example())
        .env("QUEUE_TARGET", target)
        .output()
        .expect("run the example");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Three jobs sent, each done once, on its first attempt.
fn assert_jobs_done(stdout: &str) {
    let mut jobs: Vec<&str> = stdout
        .lines()
        .map(|l| l.split(" (").next().unwrap_or_default())
        .collect();
    jobs.sort();
    assert_eq!(
        jobs,
        ["done {\"job\":1}", "done {\"job\":2}", "done {\"job\":3}"],
        "{stdout}"
    );
    assert!(
        stdout.lines().all(|l| l.ends_with("attempt 1)")),
        "{stdout}"
    );
}

#[test]
fn runs_against_alien_emulate() {
    let state = tempfile::tempdir().expect("state dir");
    let emulate = common::start_stack("examples/portable-queue", "aws", state.path(), &[]);
    let (code, stdout) = run_example(&format!("sqs:{}", emulate.control));
    assert_eq!(code, Some(0), "{stdout}");
    assert_jobs_done(&stdout);
}

#[test]
fn runs_against_the_pubsub_emulator() {
    let Ok(url) = std::env::var("ALIEN_PUBSUB_EMULATOR_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs every peer: ALIEN_PUBSUB_EMULATOR_URL is not set (bash scripts/peers/pubsub.sh start)"
        );
        eprintln!(
            "skipped: ALIEN_PUBSUB_EMULATOR_URL is not set (bash scripts/peers/pubsub.sh start)"
        );
        return;
    };
    let (code, stdout) = run_example(&format!("pubsub:{url}"));
    assert_eq!(code, Some(0), "{stdout}");
    assert_jobs_done(&stdout);
}

#[test]
fn a_bad_target_is_unusable_input() {
    let (code, _) = run_example("kafka:http://127.0.0.1:1");
    assert_eq!(code, Some(2));
}
