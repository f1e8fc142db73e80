use std::path::{Path, PathBuf};
use std::time::Duration;

use alien_providers::Payload;
use chrono::{NaiveDate, TimeZone, Utc};
use rusqlite::Connection;

use super::*;
use crate::Platform;
use crate::engine::{SendVia, Sim, SimConfig};
use crate::profile::Profile;

/// The v1 file the issue-9 code wrote (emulator/tests/fixtures/state-v1.sqlite): stack `v1`
/// on aws, a dead letter m-1 (2 deliveries), m-6 leased until 00:12:04, m-7 visible, object
/// `dir/a.txt` (5 bytes), KV `cache/k` = "v", the cron's last fire at 00:10:00, 15 trace events.
fn v1_fixture(dir: &Path) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-v1.sqlite");
    let path = dir.join("state.sqlite");
    std::fs::copy(fixture, &path).unwrap();
    path
}

const V1_STACK: &str = r#"{"id":"v1","resources":{
  "jobs":{"config":{"type":"queue","id":"jobs"},"lifecycle":"frozen","dependencies":[]},
  "files":{"config":{"type":"storage","id":"files"},"lifecycle":"frozen","dependencies":[]},
  "cache":{"config":{"type":"kv","id":"cache"},"lifecycle":"frozen","dependencies":[]},
  "w":{"config":{"type":"worker","id":"w","links":[],"permissions":"p","code":{"type":"image","image":"x"},
    "timeoutSeconds":10,"triggers":[{"type":"schedule","cron":"*/5 * * * *"}]},"lifecycle":"live","dependencies":[]}}}"#;

fn sim_at(start: chrono::DateTime<Utc>) -> Sim {
    let stack = crate::stack::parse_stack_json(V1_STACK, Path::new("s.json")).unwrap();
    let profile =
        Profile::new(Platform::Aws, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap();
    Sim::new(&stack, profile, SimConfig::new(7, start))
}

fn t(h: u32, m: u32, s: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, h, m, s).unwrap()
}

#[test]
fn a_v1_file_is_migrated_with_everything_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = v1_fixture(dir.path());
    let store = Store::open(&path).unwrap();
    assert_eq!(store.migrated_from(), Some(1));
    assert!(backup_path(&path).exists(), "the v1 file is kept");
    let loaded = store.load(100).unwrap().expect("state");
    let state = &loaded.state;
    assert_eq!(loaded.clock.now, t(0, 10, 34));
    assert_eq!(state.counter, 9);
    let jobs = &state.queues[0];
    assert_eq!(jobs.id, "jobs");
    let messages = &jobs.subscriptions[0].messages;
    assert_eq!(
        messages.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["m-6", "m-7"]
    );
    assert_eq!(messages[0].lease.map(|(_, until)| until), Some(t(0, 12, 4)));
    assert_eq!(messages[0].receive_count, 1);
    assert_eq!(messages[1].lease, None);
    assert_eq!(jobs.dead_letters[0].id, "m-1");
    assert_eq!(jobs.dead_letters[0].receive_count, 2);
    let object = &state.objects["files"][0];
    assert_eq!((object.key.as_str(), object.size), ("dir/a.txt", 5));
    assert_eq!(object.content_type, "text/plain");
    assert_eq!(state.kv["cache"].next_version, 1);
    assert_eq!(state.kv["cache"].rows["k"].value, b"v");
    assert_eq!(state.crons[0].last_fired, Some(t(0, 10, 0)));
    assert_eq!(state.trace.len(), 15);
    assert_eq!(state.trace_next_seq, 15);

    // The engine goes on from it: the lease still runs, the visible message is there.
    let mut sim = Sim::restore(
        &crate::stack::parse_stack_json(V1_STACK, Path::new("s.json")).unwrap(),
        Profile::new(Platform::Aws, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap(),
        SimConfig::new(7, t(0, 11, 0)),
        loaded.state.clone(),
    );
    let peeked = sim.peek("jobs").unwrap();
    assert_eq!(
        peeked
            .iter()
            .map(|p| (p.id.as_str(), p.leased))
            .collect::<Vec<_>>(),
        [("m-6", true), ("m-7", false)]
    );
    sim.advance(Duration::from_secs(70)).unwrap();
    assert!(
        !sim.peek("jobs").unwrap()[0].leased,
        "the lease ran out at 00:12:04"
    );
    assert_eq!(sim.dead_letters("jobs").unwrap()[0].id, "m-1");

    // Reopening finds v2 and does not migrate again.
    drop(store);
    let again = Store::open(&path).unwrap();
    assert_eq!(again.migrated_from(), None);
    assert_eq!(again.load(100).unwrap().unwrap().state, loaded.state);
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn a_corrupt_file_is_refused_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    std::fs::write(
        &path,
        b"this is not a database, just 64 bytes of text ............",
    )
    .unwrap();
    let before = bytes(&path);
    let err = Store::open(&path).err().expect("refused");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("state.sqlite") && text.contains("left as it is"),
        "{text}"
    );
    assert_eq!(bytes(&path), before);
    assert!(!path.with_extension("sqlite-wal").exists());
}

#[test]
fn a_newer_format_is_refused_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
         INSERT INTO meta VALUES ('format', 'alien-emulator.state.v3');
         CREATE TABLE future(x);",
    )
    .unwrap();
    drop(conn);
    let before = bytes(&path);
    let err = Store::open(&path).err().expect("refused");
    assert_eq!(
        err.to_string(),
        format!(
            "state file {} was written by a newer alien-emulator (format v3); this build reads formats up to v2; it was left as it is",
            path.display()
        )
    );
    assert_eq!(bytes(&path), before);
}

#[test]
fn a_foreign_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('format', 'other.v9');").unwrap();
    drop(conn);
    let err = Store::open(&path).err().expect("refused");
    assert!(err.to_string().contains("format 'other.v9'"), "{err}");
}

fn writer(path: &Path, retention: u64) -> StoreHandle {
    Store::open(path)
        .unwrap()
        .start_writer(
            0,
            WriterOptions {
                trace_retention: retention,
                time_scale: 1.0,
            },
        )
        .unwrap()
}

/// Every operation's rows, written one change set at a time, load back as the engine's state.
#[test]
fn incremental_writes_load_back_as_the_engine_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    let store = writer(&path, 1_000);
    let mut sim = sim_at(t(0, 0, 0));
    sim.track_changes(8);
    let commit = |sim: &mut Sim| {
        store
            .submit(sim.take_changes(), Utc::now(), false)
            .wait_blocking()
            .unwrap()
    };
    for n in 0..5 {
        sim.send(
            "jobs",
            Payload::Json(serde_json::json!({ "n": n })),
            SendVia::Binding,
        )
        .unwrap();
        commit(&mut sim);
    }
    let got = sim
        .receive("jobs", 2, Some(Duration::from_secs(60)))
        .unwrap();
    sim.ack("jobs", &got[0].receipt).unwrap();
    commit(&mut sim);
    sim.put_object_bytes(
        "files",
        "a/b.txt",
        b"hello".to_vec(),
        "text/plain",
        Default::default(),
    )
    .unwrap();
    sim.kv_put(
        "cache",
        "k",
        b"v1".to_vec(),
        None,
        alien_providers::PutCondition::None,
    )
    .unwrap();
    sim.kv_put(
        "cache",
        "gone",
        b"x".to_vec(),
        None,
        alien_providers::PutCondition::None,
    )
    .unwrap();
    commit(&mut sim);
    sim.kv_delete("cache", "gone", None).unwrap();
    sim.delete_object("files", "a/b.txt").unwrap();
    sim.put_object_bytes("files", "c.txt", b"c".to_vec(), "", Default::default())
        .unwrap();
    sim.advance(Duration::from_secs(600)).unwrap();
    commit(&mut sim);
    drop(store);

    let expected = sim.export_state();
    let loaded = Store::open(&path).unwrap().load(8).unwrap().unwrap();
    assert_eq!(loaded.state.queues, expected.queues);
    assert_eq!(loaded.state.objects, expected.objects);
    assert_eq!(loaded.state.kv, expected.kv);
    assert_eq!(loaded.state.crons, expected.crons);
    assert_eq!(loaded.state.counter, expected.counter);
    assert_eq!(loaded.state.trace_next_seq, sim.trace().next_seq());
    assert_eq!(
        loaded.state.trace,
        sim.trace().events()[sim.trace().events().len() - 8..]
    );
    assert_eq!(loaded.clock.now, sim.now());
}

#[test]
fn the_trace_file_keeps_the_newest_events_and_pages_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    let store = writer(&path, 100);
    let mut sim = sim_at(t(0, 0, 0));
    sim.track_changes(10);
    for n in 0..300 {
        sim.send("jobs", Payload::Text(format!("{n}")), SendVia::Binding)
            .unwrap();
        store
            .submit(sim.take_changes(), Utc::now(), false)
            .wait_blocking()
            .unwrap();
    }
    assert!(sim.trace().events().len() <= 20, "memory keeps a window");
    assert_eq!(*store.durable_trace().borrow(), 300);
    let reader = TraceReader::open(&path).unwrap();
    let kept = reader.page(0, 300, 1000).unwrap();
    assert!((100..=110).contains(&kept.len()), "{}", kept.len());
    assert_eq!(kept.last().unwrap().seq, 299);
    let page = reader.page(250, 300, 10).unwrap();
    assert_eq!(
        page.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (250..260).collect::<Vec<_>>()
    );
}

#[test]
fn a_clock_only_change_is_written_when_asked_and_skipped_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    let store = writer(&path, 100);
    let mut sim = sim_at(t(0, 0, 0));
    sim.track_changes(10);
    sim.send("jobs", Payload::Text("x".into()), SendVia::Binding)
        .unwrap();
    store
        .submit(sim.take_changes(), Utc::now(), false)
        .wait_blocking()
        .unwrap();
    sim.advance(Duration::from_secs(60)).unwrap();
    let changes = sim.take_changes();
    assert!(changes.is_empty(), "{changes:?}");
    store
        .submit(changes, Utc::now(), false)
        .wait_blocking()
        .unwrap();
    let clock = |path: &Path| {
        let conn = Connection::open(path).unwrap();
        conn.query_row("SELECT value FROM meta WHERE key = 'clock_now'", [], |r| {
            r.get::<_, String>(0)
        })
        .unwrap()
    };
    assert_eq!(clock(&path), t(0, 0, 0).to_rfc3339());
    sim.advance(Duration::from_secs(60)).unwrap();
    store
        .submit(sim.take_changes(), Utc::now(), true)
        .wait_blocking()
        .unwrap();
    assert_eq!(clock(&path), t(0, 2, 0).to_rfc3339());
}
