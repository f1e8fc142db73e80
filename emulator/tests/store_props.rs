//! `alien emulate`'s state file written row by row (issue 10, design.md "State and
//! durability"): after any sequence of operations, committed in any grouping, what the file
//! loads back is the engine's state — queues with their leases and receive counts, dead
//! letters, objects, KV, cron fires, commands and the trace's newest events.

use std::path::Path;
use std::time::Duration;

use alien_emulator::Platform;
use alien_emulator::emulate::state::store::{Store, WriterOptions};
use alien_emulator::engine::{SendVia, Sim, SimConfig};
use alien_emulator::profile::Profile;
use alien_providers::{Payload, PutCondition};
use chrono::{NaiveDate, TimeZone, Utc};
use proptest::prelude::*;

const STACK: &str = r#"{"id":"p","resources":{
  "jobs":{"config":{"type":"queue","id":"jobs"},"lifecycle":"frozen","dependencies":[]},
  "work":{"config":{"type":"queue","id":"work"},"lifecycle":"frozen","dependencies":[]},
  "files":{"config":{"type":"storage","id":"files"},"lifecycle":"frozen","dependencies":[]},
  "cache":{"config":{"type":"kv","id":"cache"},"lifecycle":"frozen","dependencies":[]},
  "w":{"config":{"type":"worker","id":"w","links":[],"permissions":"p","code":{"type":"image","image":"x"},
    "timeoutSeconds":10,"commandsEnabled":true,
    "triggers":[{"type":"queue","queue":{"type":"queue","id":"work"}},{"type":"schedule","cron":"*/5 * * * *"}]},
    "lifecycle":"live","dependencies":[]}}}"#;

#[derive(Debug, Clone)]
enum Op {
    Send(u8),
    Receive { max: u32, lease_s: u64 },
    Ack(usize),
    Nack(usize),
    Renew { pick: usize, secs: u64 },
    Trigger(u8),
    Advance(u64),
    Put { key: u8, len: u16 },
    Delete(u8),
    KvPut { key: u8, value: u8 },
    KvDelete(u8),
    Command,
    Commit,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u8>().prop_map(Op::Send),
        (1u32..4, 1u64..120).prop_map(|(max, lease_s)| Op::Receive { max, lease_s }),
        any::<usize>().prop_map(Op::Ack),
        any::<usize>().prop_map(Op::Nack),
        (any::<usize>(), 1u64..600).prop_map(|(pick, secs)| Op::Renew { pick, secs }),
        any::<u8>().prop_map(Op::Trigger),
        (1u64..900).prop_map(Op::Advance),
        (0u8..4, 0u16..300).prop_map(|(key, len)| Op::Put { key, len }),
        (0u8..4).prop_map(Op::Delete),
        (0u8..4, any::<u8>()).prop_map(|(key, value)| Op::KvPut { key, value }),
        (0u8..4).prop_map(Op::KvDelete),
        Just(Op::Command),
        Just(Op::Commit),
        Just(Op::Commit),
    ]
}

fn platform() -> impl Strategy<Value = Platform> {
    prop_oneof![
        Just(Platform::Aws),
        Just(Platform::Gcp),
        Just(Platform::Azure),
        Just(Platform::Local)
    ]
}

/// Runs `op`; engine refusals (a stale receipt, a bad renew) are part of the sequence.
fn apply(sim: &mut Sim, op: &Op, receipts: &mut Vec<String>) {
    let pick = |receipts: &Vec<String>, n: usize| receipts.get(n % receipts.len().max(1)).cloned();
    match op {
        Op::Send(n) => {
            let _ = sim.send(
                "jobs",
                Payload::Json(serde_json::json!({ "n": n })),
                SendVia::Binding,
            );
        }
        Op::Receive { max, lease_s } => {
            if let Ok(got) = sim.receive("jobs", *max, Some(Duration::from_secs(*lease_s))) {
                receipts.extend(got.into_iter().map(|r| r.receipt));
            }
        }
        Op::Ack(n) => {
            if let Some(r) = pick(receipts, *n) {
                let _ = sim.ack("jobs", &r);
            }
        }
        Op::Nack(n) => {
            if let Some(r) = pick(receipts, *n) {
                let _ = sim.nack("jobs", &r);
            }
        }
        Op::Renew { pick: n, secs } => {
            if let Some(r) = pick(receipts, *n) {
                let _ = sim.renew("jobs", &r, Duration::from_secs(*secs));
            }
        }
        Op::Trigger(n) => {
            let _ = sim.send("work", Payload::Text(format!("{n}")), SendVia::Binding);
        }
        Op::Advance(secs) => sim.advance(Duration::from_secs(*secs)).unwrap(),
        Op::Put { key, len } => {
            let body = (0..*len).map(|i| i as u8).collect();
            sim.put_object_bytes("files", &format!("k{key}"), body, "", Default::default())
                .unwrap();
        }
        Op::Delete(key) => sim.delete_object("files", &format!("k{key}")).unwrap(),
        Op::KvPut { key, value } => {
            sim.kv_put(
                "cache",
                &format!("k{key}"),
                vec![*value],
                None,
                PutCondition::None,
            )
            .unwrap();
        }
        Op::KvDelete(key) => {
            sim.kv_delete("cache", &format!("k{key}"), None).unwrap();
        }
        Op::Command => {
            sim.create_command("w", "ping", serde_json::json!({}), None)
                .unwrap();
        }
        Op::Commit => unreachable!("handled by the caller"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn what_the_file_loads_is_the_engine_state(
        platform in platform(),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let stack = alien_emulator::stack::parse_stack_json(STACK, Path::new("p.json")).unwrap();
        let profile = Profile::new(platform, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap();
        let start = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
        let mut sim = Sim::new(&stack, profile, SimConfig::new(3, start));
        sim.track_changes(16);
        let store = Store::open(&path)
            .unwrap()
            .start_writer(0, WriterOptions { trace_retention: 1_000_000, time_scale: 1.0 })
            .unwrap();
        let mut receipts = Vec::new();
        for op in ops.iter().chain([&Op::Commit]) {
            if matches!(op, Op::Commit) {
                store.submit(sim.take_changes(), Utc::now(), true).wait_blocking().unwrap();
            } else {
                apply(&mut sim, op, &mut receipts);
            }
        }
        let expected = sim.export_state();
        let loaded = Store::open(&path).unwrap().load(16).unwrap().expect("saved");
        let mut queues = loaded.state.queues.clone();
        // The file holds queues with messages or dead letters; the engine lists every queue.
        let mut engine_queues: Vec<_> = expected
            .queues
            .iter()
            .filter(|q| !q.dead_letters.is_empty() || q.subscriptions.iter().any(|s| !s.messages.is_empty()))
            .cloned()
            .collect();
        for q in queues.iter_mut().chain(engine_queues.iter_mut()) {
            q.subscriptions.retain(|s| !s.messages.is_empty());
        }
        engine_queues.sort_by(|a, b| a.id.cmp(&b.id));
        prop_assert_eq!(queues, engine_queues);
        let objects: std::collections::BTreeMap<_, _> =
            expected.objects.into_iter().filter(|(_, o)| !o.is_empty()).collect();
        prop_assert_eq!(loaded.state.objects, objects);
        let kv_rows = loaded.state.kv.get("cache").map(|k| k.rows.clone()).unwrap_or_default();
        prop_assert_eq!(&kv_rows, &expected.kv["cache"].rows);
        // A trigger that never fired has no row.
        let fired: Vec<_> = expected.crons.into_iter().filter(|c| c.last_fired.is_some()).collect();
        prop_assert_eq!(loaded.state.crons, fired);
        prop_assert_eq!(loaded.state.commands, expected.commands);
        prop_assert_eq!(loaded.state.counter, expected.counter);
        prop_assert_eq!(loaded.state.trace_next_seq, sim.trace().next_seq());
        let tail = &sim.trace().events()[sim.trace().events().len().saturating_sub(16)..];
        prop_assert_eq!(&loaded.state.trace[..], tail);
        prop_assert_eq!(loaded.clock.now, sim.now());
    }
}
