//! Every redelivery names its cause in words, computed from the profile that decided it
//! (issue 12: the console shows "why was this redelivered"). The numbers in the words are the
//! ones the engine used: the tests compare them with the observed delivery times.

use std::path::Path;
use std::time::Duration;

use alien_emulator::Platform;
use alien_emulator::engine::{Behaviour, Kind, Mode, Scripted, SendVia, Sim, SimConfig};
use alien_emulator::profile::Profile;
use alien_emulator::stack::{Stack, parse_stack_json};
use alien_providers::Payload;
use chrono::{NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::json;

fn queue_stack(timeout: u32) -> Stack {
    let doc = json!({"id": "demo", "resources": {
        "jobs": {"config": {"type": "queue", "id": "jobs"}, "lifecycle": "frozen", "dependencies": []},
        "processor": {"config": {"type": "worker", "id": "processor", "links": [],
            "permissions": "execution", "code": {"type": "image", "image": "x:1"},
            "timeoutSeconds": timeout, "memoryMb": 1024,
            "triggers": [{"type": "queue", "queue": {"type": "queue", "id": "jobs"}}]},
            "lifecycle": "live", "dependencies": []}}});
    parse_stack_json(&doc.to_string(), Path::new("test.json")).unwrap()
}

/// Runs a message through a handler in `mode` (each attempt `took`) for 13 hours of virtual
/// time (past SQS's 12 h visibility cap).
fn run(platform: Platform, timeout: u32, mode: Mode, took: Duration) -> Sim {
    let profile = Profile::new(platform, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap();
    let mut config = SimConfig::new(1, Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap());
    config.cold_starts = false;
    let mut sim = Sim::new(&queue_stack(timeout), profile, config);
    let behaviour = Behaviour {
        mode,
        duration: took,
        ..Behaviour::default()
    };
    sim.set_handler("processor", Box::new(Scripted::new(behaviour)))
        .unwrap();
    sim.send("jobs", Payload::Json(json!({"n": 1})), SendVia::Binding)
        .unwrap();
    sim.advance(Duration::from_secs(13 * 3600)).unwrap();
    sim
}

/// `(kind, cause)` of every event of message m-1 that carries a cause.
fn causes(sim: &Sim) -> Vec<(String, String)> {
    sim.trace()
        .events()
        .iter()
        .filter(|e| e.subject.as_deref() == Some("m-1"))
        .filter_map(|e| Some((e.kind.as_str().to_string(), e.get("cause")?.to_string())))
        .collect()
}

fn delivery_ms(sim: &Sim) -> Vec<i64> {
    sim.trace()
        .events()
        .iter()
        .filter(|e| e.kind == Kind::Delivered)
        .map(|e| e.t_ms)
        .collect()
}

/// The causes of a handler that fails twice, per platform. Sources:
/// upstream-cloud-semantics.md §0 item 2 (SQS visibility = max(30, min(43200, 6 × timeout))),
/// §4.2 (Pub/Sub push with no retry policy redelivers at once, after the push backoff of
/// peers-2026.md; Service Bus abandon redelivers at once, 10 deliveries), §0b (Local 30 s lease).
#[test]
fn handler_fails_twice_causes_per_platform() {
    let mut out = String::new();
    for platform in [
        Platform::Aws,
        Platform::Gcp,
        Platform::Azure,
        Platform::Local,
    ] {
        let sim = run(
            platform,
            10,
            Mode::FailFirst { times: 2 },
            Duration::from_secs(1),
        );
        for (kind, cause) in causes(&sim) {
            out.push_str(&format!("{platform:<6} {kind:<14} {cause}\n"));
        }
    }
    insta::assert_snapshot!(out);
}

/// Service Bus peek-lock through the binding (no trigger renews the lock): each 30 s lock
/// the binding takes that runs out names the delivery count against MaxDeliveryCount 10, and
/// the 10th lost lock dead-letters (upstream-stack-and-limits.md §6.3: the binding's peek-lock
/// call asks for 30 s; §6.2: MaxDeliveryCount 10).
#[test]
fn service_bus_lost_locks_count_deliveries_then_dead_letter() {
    let doc = json!({"id": "demo", "resources": {
        "jobs": {"config": {"type": "queue", "id": "jobs"}, "lifecycle": "frozen", "dependencies": []}}});
    let stack = parse_stack_json(&doc.to_string(), Path::new("test.json")).unwrap();
    let profile = Profile::new(
        Platform::Azure,
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
    )
    .unwrap();
    let config = SimConfig::new(1, Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap());
    let mut sim = Sim::new(&stack, profile, config);
    sim.send("jobs", Payload::Text("poison".into()), SendVia::Binding)
        .unwrap();
    for _ in 0..10 {
        assert_eq!(sim.receive("jobs", 1, None).unwrap().len(), 1);
        sim.advance(Duration::from_secs(61)).unwrap();
    }
    let causes = causes(&sim);
    assert_eq!(
        causes[6],
        (
            "lease_expired".to_string(),
            "lock lost: the 30 s lock ran out, delivery 7 of 10".to_string()
        )
    );
    assert_eq!(
        causes.last(),
        Some(&(
            "dead_lettered".to_string(),
            "delivery 10 of 10: max deliveries reached".to_string()
        ))
    );
}

proptest! {
    /// upstream-cloud-semantics.md §0 item 2: the visibility timeout in the words is the one
    /// the engine waited, max(30, min(43200, 6 × timeoutSeconds)).
    #[test]
    fn sqs_visibility_cause_states_the_wait(timeout in 1u32..=900) {
        let sim = run(Platform::Aws, timeout, Mode::FailFirst { times: 1 }, Duration::from_secs(1));
        let delivered = delivery_ms(&sim);
        prop_assert_eq!(delivered.len(), 2);
        let waited = (delivered[1] - delivered[0]) / 1000;
        let expected = (6 * u64::from(timeout)).clamp(30, 43_200);
        prop_assert_eq!(waited as u64, expected);
        let causes = causes(&sim);
        let (_, cause) = causes.iter().find(|(k, _)| k == "lease_expired").expect("a cause");
        prop_assert!(
            cause.starts_with(&format!("visibility timeout: {expected} s ")),
            "{}", cause
        );
        prop_assert!(cause.contains(&format!("timeoutSeconds {timeout}")), "{}", cause);
    }
}
