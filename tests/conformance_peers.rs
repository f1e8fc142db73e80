//! The contract suite against real third-party peers, in one table with the engine's
//! profiles and `alien emulate`'s SQS endpoint: moto and LocalStack (AWS adapter), Google's
//! Pub/Sub emulator with fake-gcs-server (GCP adapter) and Azurite (Azure adapter), each
//! started on 127.0.0.1 by the project's own scripts (scripts/peers/). `scripts/test.sh`
//! starts them and exports their URLs; with `CI` set a missing peer fails the test, elsewhere
//! the test says it was skipped and why.
#![cfg(all(feature = "aws", feature = "gcp", feature = "azure"))]

use std::process::Command;

/// Every peer the table needs: its column, the variable holding its URL, its script.
const PEERS: &[(&str, &str, &str)] = &[
    ("moto", "ALIEN_MOTO_URL", "moto.sh"),
    ("localstack", "ALIEN_LOCALSTACK_URL", "localstack.sh"),
    ("pubsub-emulator", "ALIEN_PUBSUB_EMULATOR_URL", "pubsub.sh"),
    ("fake-gcs", "ALIEN_FAKE_GCS_URL", "fake-gcs.sh"),
    (
        "fake-gcs events",
        "ALIEN_FAKE_GCS_EVENTS_TOPIC",
        "fake-gcs.sh",
    ),
    ("azurite", "ALIEN_AZURITE_URL", "azurite.sh"),
];

/// Whether every peer was started; outside CI a missing one skips the test with the reason.
fn peers_started() -> bool {
    let missing: Vec<String> = PEERS
        .iter()
        .filter(|(_, var, _)| std::env::var_os(var).is_none())
        .map(|(_, var, script)| format!("{var} (bash scripts/peers/{script} start)"))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let how = format!("not set: {}", missing.join(", "));
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs every peer: {how}"
    );
    eprintln!("skipped: {how}");
    false
}

/// Every case on every target: each target meets its platform's facts, or differs only by a
/// listed known gap on the value it showed; every case runs on at least two targets.
#[test]
fn every_target_meets_its_platform_facts() {
    if !peers_started() {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_alien"))
        .args([
            "conformance",
            "--target",
            "emulator",
            "--target",
            "emulate-sqs",
        ])
        .args(["--target", "moto", "--target", "localstack"])
        .args(["--target", "pubsub-emulator", "--target", "azurite"])
        .output()
        .expect("run alien");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("every case ran on at least two targets"),
        "{stdout}"
    );
    insta::assert_snapshot!(stdout);
}
