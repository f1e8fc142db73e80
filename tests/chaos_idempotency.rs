//! The idempotency detector on the real app (issue 13 item 3): the fixture app
//! (tests/fixtures/worker-app on the published alien-sdk 3.3.49, its `count_kv`, `mark_kv` and
//! `notify` payloads in src/effects.rs) as a real process under `alien emulate`, three times
//! with the same inputs: clean, every input delivered twice, every input's first ack lost.
//! Sources: seed 001 Guarantees (at-least-once; handlers must be idempotent) and anchors.md
//! §14 item 4 (the duplicate delivery and lost ack faults). Virtual time only: the detector
//! moves the clock through `POST /clock/advance`.

mod common;

use alien_emulator::chaos::idempotency::{
    Difference, IdempotencyOptions, InputSends, Mode, Report, Shown, Workload, detect,
};
use alien_emulator::profile::ProfileSpec;
use alien_emulator::scenario::load_scenario;
use alien_emulator::stack::load_stack;

use common::{alien, build_fixture, repo};

const STACK: &str = "tests/fixtures/stacks/idempotency";

/// The detector's report on `platform` with the inputs of `scenario`.
fn detect_with(scenario: &str, platform: &str) -> Report {
    build_fixture(&["--bin", "worker-app"]);
    let loaded = load_stack(&repo().join(STACK)).unwrap();
    let inputs = load_scenario(&repo().join(scenario)).unwrap();
    let spec: ProfileSpec = platform.parse().unwrap();
    let options = IdempotencyOptions {
        workload: Workload::from_scenario(&inputs, &loaded.stack).unwrap(),
        stack: loaded,
        profile: spec.resolve(chrono::Utc::now().date_naive()).unwrap(),
    };
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(detect(&options, &mut |line| eprintln!("{line}")))
        .unwrap()
}

fn text(s: &str) -> Option<Shown> {
    Some(Shown::Text(s.into()))
}

/// Ten `count_kv` messages count to 10 once each; delivered twice (or redelivered after a
/// lost ack) they count to 20. The ten `mark_kv` keys end as `done` in every run, and the one
/// `notify` message sends once, or twice when handled twice.
#[test]
fn counting_in_kv_is_not_idempotent_and_marking_is() {
    let report = detect_with(
        "tests/fixtures/scenarios/idempotency-count-and-mark.toml",
        "aws",
    );
    let counts: Vec<_> = report
        .runs
        .iter()
        .map(|r| (r.mode, r.deliveries, r.faults))
        .collect();
    assert_eq!(
        counts,
        [
            (Mode::Clean, 21, 0),
            (Mode::DuplicateDelivery, 42, 21),
            (Mode::LostAck, 42, 21),
        ]
    );
    for mode in [Mode::DuplicateDelivery, Mode::LostAck] {
        let found: Vec<&Difference> = report
            .findings
            .iter()
            .filter(|f| f.mode == mode)
            .map(|f| {
                assert_eq!(f.workers, ["app"]);
                &f.difference
            })
            .collect();
        assert_eq!(
            found,
            [
                &Difference::Kv {
                    store: "cache".into(),
                    key: "count".into(),
                    clean: text("10"),
                    faulty: text("20"),
                },
                &Difference::Sent {
                    queue: "emails".into(),
                    clean: 1,
                    faulty: 2,
                    inputs: vec![InputSends {
                        input: 21,
                        clean: 1,
                        faulty: 2,
                    }],
                },
            ],
            "{mode}: no seen-* key differs, only the count and the notification"
        );
    }
    assert!(!report.idempotent);
    insta::assert_snapshot!(report.render_text());
}

/// Writing `done` under a key is the same after one delivery or two: exit 0.
#[test]
fn marking_only_is_idempotent_and_exits_0() {
    build_fixture(&["--bin", "worker-app"]);
    let out = alien(&[
        "chaos",
        "--idempotency",
        STACK,
        "--platform",
        "aws",
        "--inputs",
        "tests/fixtures/scenarios/idempotency-marks-only.toml",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("no difference: idempotent under duplicate delivery and lost acks"),
        "{stdout}"
    );
    assert!(
        stdout.contains("duplicate delivery  20 deliveries, 10 duplicated"),
        "{stdout}"
    );
}

#[test]
fn all_platforms_at_once_is_refused_with_exit_2() {
    let out = alien(&["chaos", "--idempotency", STACK, "--platform", "all"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--platform all: the idempotency detector runs the real app on one platform"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
