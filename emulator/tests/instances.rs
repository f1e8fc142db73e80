//! Worker instances in the engine, in virtual time: each attempt names the instance that runs
//! it, a busy worker scales out one instance per event up to the platform's limit and the local
//! `--max-instances` cap, and at the platform's limit the queue trigger behaves as the platform
//! does (Lambda throttles and the message returns after its visibility timeout; the others
//! wait). The real processes behind the instances are exercised through the CLI in the root
//! package's `tests/emulate_instances.rs`.

use std::path::Path;
use std::time::Duration;

use alien_emulator::Platform;
use alien_emulator::engine::{Dispatch, HandlerResult, Kind, SendVia, Sim, SimConfig};
use alien_emulator::profile::Profile;
use alien_emulator::stack::parse_stack_json;
use alien_providers::Payload;
use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::json;

/// A queue `jobs` triggering worker `w` (timeout 30 s), handled by real processes; `limit`
/// is the worker's `concurrencyLimit`.
fn sim(platform: Platform, limit: Option<u32>, local_cap: Option<u32>) -> Sim {
    let mut worker = json!({"type": "worker", "id": "w", "links": [], "permissions": "execution",
        "code": {"type": "image", "image": "x:1"}, "timeoutSeconds": 30, "memoryMb": 1024,
        "triggers": [{"type": "queue", "queue": {"type": "queue", "id": "jobs"}}]});
    if let Some(limit) = limit {
        worker["concurrencyLimit"] = json!(limit);
    }
    let doc = json!({"id": "demo", "resources": {
        "jobs": {"config": {"type": "queue", "id": "jobs"}, "lifecycle": "frozen", "dependencies": []},
        "w": {"config": worker, "lifecycle": "live", "dependencies": []}}});
    let stack = parse_stack_json(&doc.to_string(), Path::new("demo.json")).unwrap();
    let profile = Profile::new(platform, NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()).unwrap();
    let mut config = SimConfig::new(1, Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap());
    config.cold_starts = false;
    config.max_local_instances = local_cap;
    let mut sim = Sim::new(&stack, profile, config);
    sim.set_external("w").unwrap();
    sim
}

fn send(sim: &mut Sim, n: usize) {
    for i in 0..n {
        sim.send("jobs", Payload::Text(format!("m{i}")), SendVia::Binding)
            .unwrap();
    }
    sim.advance(Duration::from_millis(1)).unwrap();
}

fn ok(sim: &mut Sim, dispatch: &Dispatch) {
    sim.complete(
        dispatch.invocation,
        HandlerResult::Ok {
            status: 200,
            body_bytes: 0,
        },
    );
}

fn instances(dispatches: &[Dispatch]) -> Vec<Option<u32>> {
    dispatches.iter().map(|d| d.instance).collect()
}

/// upstream-cloud-semantics.md §3.1 ("Lambda: 1 event per execution environment"; the app SDK
/// runs one task at a time, upstream-runtime-and-bindings.md §2.10): three events at once run
/// on three instances, the launch-time instance 1 first; the trace names each attempt's
/// instance on its delivery and on its end.
#[test]
fn concurrent_events_scale_out_one_instance_each_and_the_trace_names_it() {
    let mut s = sim(Platform::Aws, None, None);
    send(&mut s, 3);
    let dispatches = s.take_dispatches();
    assert_eq!(instances(&dispatches), vec![Some(1), Some(2), Some(3)]);
    for d in &dispatches {
        ok(&mut s, d);
    }
    let delivered: Vec<String> = s
        .trace()
        .events()
        .iter()
        .filter(|e| e.kind == Kind::Delivered)
        .map(|e| e.get("instance").unwrap().to_string())
        .collect();
    assert_eq!(delivered, ["1", "2", "3"]);
    let succeeded = s
        .trace()
        .events()
        .iter()
        .filter(|e| e.kind == Kind::Succeeded)
        .filter_map(|e| e.get("instance").map(str::to_string))
        .count();
    assert_eq!(succeeded, 3);
}

/// A free instance is reused before a new one starts (a warm start): one event after another
/// stays on instance 1.
#[test]
fn sequential_events_reuse_the_warm_instance() {
    let mut s = sim(Platform::Gcp, None, None);
    for _ in 0..3 {
        send(&mut s, 1);
        let dispatches = s.take_dispatches();
        assert_eq!(instances(&dispatches), vec![Some(1)]);
        ok(&mut s, &dispatches[0]);
    }
}

/// `--max-instances 2` caps the processes on this machine below the platform's limit (Lambda
/// 1,000): the third event waits for a free instance instead of being throttled, and runs on
/// the instance freed first.
#[test]
fn the_local_cap_makes_work_wait_without_throttling() {
    let mut s = sim(Platform::Aws, None, Some(2));
    send(&mut s, 3);
    let first = s.take_dispatches();
    assert_eq!(instances(&first), vec![Some(1), Some(2)]);
    assert_eq!(s.trace().count(Kind::Throttled, None), 0);
    ok(&mut s, &first[1]);
    let next = s.take_dispatches();
    assert_eq!(instances(&next), vec![Some(2)]);
}

/// upstream-cloud-semantics.md §4.2 ("Throttling under reserved concurrency also returns
/// messages"); AWS re:Post "lambda-sqs-scaling" ("Event source mappings don't account for
/// reserved concurrency and can process more messages off your queue than can be sent to your
/// function"): with `concurrencyLimit` 1 and the one instance busy, the event source mapping
/// still receives the next messages, throttles them, and they come back after the visibility
/// timeout (max(30, 6 × 30) = 180 s) with one more receive.
#[test]
fn lambda_throttles_at_reserved_concurrency_and_the_message_returns_after_visibility() {
    let mut s = sim(Platform::Aws, Some(1), None);
    send(&mut s, 2);
    let first = s.take_dispatches();
    assert_eq!(instances(&first), vec![Some(1)]);
    let throttled: Vec<_> = s
        .trace()
        .events()
        .iter()
        .filter(|e| e.kind == Kind::Throttled)
        .cloned()
        .collect();
    assert_eq!(throttled.len(), 1);
    assert_eq!(throttled[0].resource, "jobs");
    assert_eq!(
        throttled[0].get("cause"),
        Some("concurrency limit 1 reached: received but not invoked; visible again after 3m")
    );
    let subject = throttled[0].subject.clone().unwrap();
    ok(&mut s, &first[0]);
    assert!(
        s.take_dispatches().is_empty(),
        "held until its visibility timeout"
    );

    s.advance(Duration::from_secs(179)).unwrap();
    assert!(s.take_dispatches().is_empty());
    s.advance(Duration::from_secs(2)).unwrap();
    let again = s.take_dispatches();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempt, 2, "the throttled receive counted");
    let expired = s
        .trace()
        .events()
        .iter()
        .find(|e| e.kind == Kind::LeaseExpired)
        .cloned()
        .unwrap();
    assert_eq!(expired.subject.as_deref(), Some(subject.as_str()));
    let cause = expired.get("cause").unwrap();
    assert!(
        cause.starts_with("visibility timeout: 180 s = 6 × timeoutSeconds 30"),
        "{cause}"
    );
}

/// Lambda's pollers: "Lambda starts processing five batches at a time" (Lambda docs,
/// services-sqs-scaling), so at most five messages are held throttled at once; the rest stay
/// visible in the queue.
#[test]
fn lambda_holds_at_most_five_throttled_messages() {
    let mut s = sim(Platform::Aws, Some(1), None);
    send(&mut s, 10);
    assert_eq!(s.take_dispatches().len(), 1);
    assert_eq!(s.trace().count(Kind::Throttled, None), 5);
    let depth = s.queue_stats("jobs").unwrap();
    assert_eq!((depth.visible, depth.in_flight), (4, 6));
}

/// Cloud Run, Container Apps (Dapr) and Local take only what the worker can run: with
/// `concurrencyLimit` 1 the second message waits in the queue, untouched, and nothing is
/// throttled.
#[test]
fn other_platforms_wait_at_the_limit() {
    for platform in [Platform::Gcp, Platform::Azure, Platform::Local] {
        let mut s = sim(platform, Some(1), None);
        send(&mut s, 2);
        let first = s.take_dispatches();
        assert_eq!(first.len(), 1, "{platform}");
        assert_eq!(s.trace().count(Kind::Throttled, None), 0, "{platform}");
        ok(&mut s, &first[0]);
        let next = s.take_dispatches();
        assert_eq!(next.len(), 1, "{platform}");
        assert_eq!(next[0].attempt, 1, "{platform}: never received before");
    }
}

/// Scale-in stops the instances idle longest and names them, so their processes stop.
#[test]
fn scale_in_names_the_stopped_instances() {
    let mut s = sim(Platform::Aws, None, None);
    send(&mut s, 3);
    for d in s.take_dispatches() {
        ok(&mut s, &d);
    }
    s.advance(Duration::from_secs(31 * 60)).unwrap();
    let mut stopped = s.take_stopped_instances();
    stopped.sort();
    assert_eq!(
        stopped,
        vec![
            ("w".to_string(), 1),
            ("w".to_string(), 2),
            ("w".to_string(), 3)
        ]
    );
}
