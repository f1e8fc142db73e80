//! The engine's side of real worker processes (`alien emulate`): scale to zero, cold starts,
//! recycling and handler-crash faults, all in virtual time. The processes themselves are
//! exercised through the CLI in the root package's `tests/emulate_part2.rs`.

use std::path::Path;
use std::time::Duration;

use alien_emulator::Platform;
use alien_emulator::engine::{FaultKind, HandlerResult, Kind, SendVia, Sim, SimConfig};
use alien_emulator::profile::Profile;
use alien_emulator::stack::parse_stack_json;
use alien_providers::Payload;
use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::json;

fn sim(platform: Platform, seed: u64, configure: impl FnOnce(&mut SimConfig)) -> Sim {
    let doc = json!({"id": "demo", "resources": {
        "jobs": {"config": {"type": "queue", "id": "jobs"}, "lifecycle": "frozen", "dependencies": []},
        "w": {"config": {"type": "worker", "id": "w", "links": [], "permissions": "execution",
            "code": {"type": "image", "image": "x:1"}, "timeoutSeconds": 30, "memoryMb": 1024,
            "triggers": [{"type": "queue", "queue": {"type": "queue", "id": "jobs"}}]},
            "lifecycle": "live", "dependencies": []}}});
    let stack = parse_stack_json(&doc.to_string(), Path::new("demo.json")).unwrap();
    let profile = Profile::new(platform, NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()).unwrap();
    let mut config = SimConfig::new(seed, Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap());
    configure(&mut config);
    let mut sim = Sim::new(&stack, profile, config);
    sim.set_external("w").unwrap();
    sim
}

/// Sends one message and answers its attempt with success; returns the cold start it paid.
fn one_message(sim: &mut Sim) -> Duration {
    sim.send("jobs", Payload::Text("x".into()), SendVia::Binding)
        .unwrap();
    sim.advance(Duration::from_millis(1)).unwrap();
    let dispatches = sim.take_dispatches();
    assert_eq!(dispatches.len(), 1);
    let dispatch = &dispatches[0];
    sim.advance(dispatch.cold_start).unwrap();
    sim.complete(
        dispatch.invocation,
        HandlerResult::Ok {
            status: 200,
            body_bytes: 0,
        },
    );
    dispatch.cold_start
}

/// seed 001 Guarantees ("scale to zero when idle") and Platform Details (Lambda cold starts
/// typically 1-3 s): the process the emulator starts is warm; after an idle window (two
/// 15-minute checks: the one that saw traffic keeps the instance) the
/// worker scales to zero, the process is named for stopping, and the next event pays a
/// seeded cold start in the profile's range.
#[test]
fn idle_workers_scale_to_zero_and_pay_a_cold_start() {
    let mut s = sim(Platform::Aws, 7, |_| {});
    assert_eq!(one_message(&mut s), Duration::ZERO, "launched warm");
    assert!(s.take_stopped_instances().is_empty());
    s.advance(Duration::from_secs(31 * 60)).unwrap();
    assert_eq!(s.trace().count(Kind::ScaledToZero, Some("w")), 1);
    assert_eq!(s.take_stopped_instances(), vec![("w".to_string(), 1)]);
    assert!(s.take_stopped_instances().is_empty(), "named once");
    let cold = one_message(&mut s);
    assert!(
        (Duration::from_secs(1)..=Duration::from_secs(3)).contains(&cold),
        "{cold:?}"
    );
    let event = s
        .trace()
        .events()
        .iter()
        .find(|e| e.kind == Kind::ColdStart)
        .unwrap();
    assert_eq!(
        event.get("latency"),
        Some(alien_emulator::engine::duration_serde::format_duration(cold).as_str())
    );

    // The same seed draws the same latency.
    let mut again = sim(Platform::Aws, 7, |_| {});
    one_message(&mut again);
    again.advance(Duration::from_secs(31 * 60)).unwrap();
    assert_eq!(one_message(&mut again), cold);
}

/// The cold start is configurable: a fixed latency, or none at all.
#[test]
fn cold_start_latency_can_be_fixed_or_off() {
    for (fixed, expected) in [
        (Duration::from_millis(250), Duration::from_millis(250)),
        (Duration::ZERO, Duration::ZERO),
    ] {
        let mut s = sim(Platform::Aws, 1, |c| c.cold_start_override = Some(fixed));
        one_message(&mut s);
        s.advance(Duration::from_secs(31 * 60)).unwrap();
        assert_eq!(one_message(&mut s), expected);
    }
}

/// seed 001 ("stateless execution"): with recycling on, the instance that handled an
/// invocation is replaced, so every invocation starts a fresh process (cold).
#[test]
fn recycling_replaces_the_process_after_each_invocation() {
    let mut s = sim(Platform::Gcp, 3, |c| c.recycle = true);
    one_message(&mut s);
    assert_eq!(s.trace().count(Kind::Recycled, Some("w")), 1);
    assert_eq!(s.take_stopped_instances(), vec![("w".to_string(), 1)]);
    assert!(one_message(&mut s) > Duration::ZERO, "the next one is cold");
    assert_eq!(s.trace().count(Kind::Recycled, Some("w")), 2);
    s.set_recycle(false);
    assert_eq!(
        s.take_stopped_instances(),
        vec![("w".to_string(), 2)],
        "the new instance has a new number"
    );
    one_message(&mut s);
    assert!(s.take_stopped_instances().is_empty());
}

/// anchors.md §14 item 4 (handler crash): for a real process the fault travels with the
/// attempt, so the host can kill the process while it handles it.
#[test]
fn handler_crash_faults_ride_on_the_dispatch() {
    let mut s = sim(Platform::Local, 1, |_| {});
    s.inject(FaultKind::HandlerCrash);
    s.send("jobs", Payload::Text("x".into()), SendVia::Binding)
        .unwrap();
    s.advance(Duration::from_millis(1)).unwrap();
    let dispatches = s.take_dispatches();
    assert!(dispatches[0].crash);
    assert_eq!(s.trace().count(Kind::Fault, Some("w")), 1);
}
