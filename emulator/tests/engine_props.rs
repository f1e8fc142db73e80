//! Engine properties (proptest): at-least-once delivery, the SQS visibility formula, and
//! determinism under seeded faults.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use alien_emulator::Platform;
use alien_emulator::engine::{
    Behaviour, FaultKind, Faults, Kind, Mode, Scripted, SendVia, Sim, SimConfig,
};
use alien_emulator::profile::Profile;
use alien_emulator::stack::{Stack, parse_stack_json};
use alien_providers::Payload;
use chrono::{NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::json;

fn stack(timeout: u32, workers: usize) -> Stack {
    let mut resources = serde_json::Map::new();
    resources.insert("jobs".into(), json!({"config": {"type": "queue", "id": "jobs"}, "lifecycle": "frozen", "dependencies": []}));
    for i in 0..workers {
        let id = format!("w{i}");
        resources.insert(
            id.clone(),
            json!({"config": {"type": "worker", "id": id, "links": [], "permissions": "execution",
                "code": {"type": "image", "image": "x:1"}, "timeoutSeconds": timeout, "memoryMb": 1024,
                "triggers": [{"type": "queue", "queue": {"type": "queue", "id": "jobs"}}]},
                "lifecycle": "live", "dependencies": []}),
        );
    }
    parse_stack_json(
        &json!({"id": "p", "resources": resources}).to_string(),
        Path::new("p.json"),
    )
    .unwrap()
}

fn platform() -> impl Strategy<Value = Platform> {
    prop::sample::select(vec![
        Platform::Aws,
        Platform::Gcp,
        Platform::Azure,
        Platform::Local,
    ])
}

struct Run {
    trace: String,
    sent: Vec<String>,
    settled: BTreeSet<String>,
    pending: BTreeSet<String>,
}

#[allow(clippy::too_many_arguments)]
fn run(
    platform: Platform,
    seed: u64,
    timeout: u32,
    workers: usize,
    messages: usize,
    p_fail: f64,
    duration_ms: u64,
    faults: &[(FaultKind, f64)],
    horizon: u64,
) -> Run {
    let profile = Profile::new(platform, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap();
    let mut config = SimConfig::new(seed, Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap());
    config.faults = Faults::with_rates(faults.iter().copied());
    let mut sim = Sim::new(&stack(timeout, workers), profile, config);
    for i in 0..workers {
        let b = Behaviour {
            mode: Mode::FailProbability { p: p_fail },
            duration: Duration::from_millis(duration_ms),
            ..Behaviour::default()
        };
        sim.set_handler(&format!("w{i}"), Box::new(Scripted::new(b)))
            .unwrap();
    }
    let sent: Vec<String> = (0..messages)
        .map(|i| {
            sim.send("jobs", Payload::Json(json!({"i": i})), SendVia::Binding)
                .unwrap()
        })
        .collect();
    sim.advance(Duration::from_secs(horizon)).unwrap();
    let settled = sim
        .trace()
        .events()
        .iter()
        .filter(|e| matches!(e.kind, Kind::Acked | Kind::DeadLettered | Kind::Expired))
        .filter_map(|e| e.subject.clone())
        .collect();
    Run {
        trace: sim.trace().render_text(),
        sent,
        settled,
        pending: sim.pending_message_ids("jobs").unwrap(),
    }
}

fn faults() -> impl Strategy<Value = Vec<(FaultKind, f64)>> {
    prop::collection::vec(
        (
            prop::sample::select(vec![
                FaultKind::DuplicateDelivery,
                FaultKind::LostAck,
                FaultKind::HandlerCrash,
                FaultKind::LeaseExpiry,
            ]),
            0.0f64..0.5,
        ),
        0..3,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// At-least-once: every sent message ends acked, dead-lettered, expired by retention or
    /// still pending — never vanished (seed 001 Guarantees).
    #[test]
    fn no_message_vanishes(
        platform in platform(), seed in any::<u64>(), timeout in 1u32..120, workers in 1usize..3,
        messages in 1usize..30, p_fail in 0.0f64..1.0, duration_ms in 100u64..200_000,
        faults in faults(), horizon in 1u64..20_000,
    ) {
        let r = run(platform, seed, timeout, workers, messages, p_fail, duration_ms, &faults, horizon);
        for id in &r.sent {
            prop_assert!(r.settled.contains(id) || r.pending.contains(id), "{platform}: {id} vanished\n{}", r.trace);
        }
    }

    /// Determinism: the same seed and inputs give the identical trace.
    #[test]
    fn same_seed_same_trace(
        platform in platform(), seed in any::<u64>(), messages in 1usize..20, p_fail in 0.0f64..1.0, faults in faults(),
    ) {
        let a = run(platform, seed, 30, 2, messages, p_fail, 1500, &faults, 3600);
        let b = run(platform, seed, 30, 2, messages, p_fail, 1500, &faults, 3600);
        prop_assert_eq!(a.trace, b.trace);
    }

    /// SQS visibility = max(30, min(43200, 6 × timeout)) (seed 001; upstream-cloud-semantics.md
    /// §0 item 2): a failed delivery comes back exactly one visibility timeout later.
    #[test]
    fn sqs_visibility_formula(timeout in 1u32..=3600) {
        let r = {
            let profile = Profile::new(Platform::Aws, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap();
            let mut sim = Sim::new(&stack(timeout, 1), profile, SimConfig::new(1, Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()));
            let b = Behaviour { mode: Mode::FailFirst { times: 1 }, ..Behaviour::default() };
            sim.set_handler("w0", Box::new(Scripted::new(b))).unwrap();
            sim.send("jobs", Payload::Text("x".into()), SendVia::Binding).unwrap();
            sim.advance(Duration::from_secs(50_000)).unwrap();
            sim.trace().events().iter().filter(|e| e.kind == Kind::Delivered).map(|e| e.t_ms).collect::<Vec<_>>()
        };
        let expected = (6 * i64::from(timeout)).clamp(30, 43_200) * 1000;
        prop_assert_eq!(r.len(), 2);
        prop_assert_eq!(r[1] - r[0], expected);
    }
}
