//! Snapshots of the state layer: consistency at a commit point, the object files and their
//! stamps, names, fork and restore. Source of the rules: issue 14 item 5 ("consistent copies:
//! the SQLite backup API plus the storage directories, taken at a commit point") and
//! SQLite's online backup API (https://www.sqlite.org/backup.html).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use alien_providers::Payload;
use chrono::{NaiveDate, TimeZone, Utc};

use super::*;
use crate::Platform;
use crate::emulate::state::EngineHandle;
use crate::emulate::state::buckets::stamp;
use crate::emulate::state::objects::Objects;
use crate::emulate::state::store::{Loaded, Store, StoreHandle, WriterOptions};
use crate::engine::{SendVia, Sim, SimConfig, shared};
use crate::profile::Profile;

const STACK: &str = r#"{"id":"snap","resources":{
  "jobs":{"config":{"type":"queue","id":"jobs"},"lifecycle":"frozen","dependencies":[]},
  "files":{"config":{"type":"storage","id":"files"},"lifecycle":"frozen","dependencies":[]}}}"#;

struct Running {
    engine: EngineHandle,
    buckets: Arc<BucketDirs>,
}

impl Running {
    /// An engine over a store and bucket directories in `dir`, at 2026-01-05 00:00:00.
    fn start(dir: &Path) -> Running {
        let stack = crate::stack::parse_stack_json(STACK, Path::new("s.json")).unwrap();
        let profile =
            Profile::new(Platform::Aws, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap();
        let start = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
        let mut sim = Sim::new(&stack, profile, SimConfig::new(7, start));
        sim.track_changes(100);
        let writer = Store::open(&dir.join(STATE_FILE))
            .unwrap()
            .start_writer(
                0,
                WriterOptions {
                    trace_retention: 1_000,
                    time_scale: 1.0,
                },
            )
            .unwrap();
        let buckets = Arc::new(BucketDirs::create(dir, ["files".to_string()]).unwrap());
        Running {
            engine: EngineHandle::durable(shared(sim), writer),
            buckets,
        }
    }

    fn store(&self) -> &StoreHandle {
        self.engine.store().unwrap()
    }

    async fn save(&self, name: &str, force: bool) -> Result<SnapshotInfo, SnapshotError> {
        save(&self.engine, Some(self.buckets.clone()), name, force).await
    }

    async fn put(&self, key: &str, body: &[u8]) {
        Objects::Dirs(self.buckets.clone())
            .put(&self.engine, "files", key, body.to_vec(), "text/plain")
            .await
            .unwrap();
    }

    /// Stops the writer once everything is on disk and the file is closed.
    async fn stop(self) {
        self.store().close().wait().await.unwrap();
    }
}

/// The state a state directory holds, as the next start loads it.
fn load(dir: &Path) -> Loaded {
    Store::open(&dir.join(STATE_FILE))
        .unwrap()
        .load(1_000)
        .unwrap()
        .expect("a saved state")
}

/// The message payloads (`n`) the state holds in queue `jobs`.
fn held(loaded: &Loaded) -> BTreeSet<u64> {
    loaded.state.queues[0].subscriptions[0]
        .messages
        .iter()
        .map(|m| match &m.payload {
            Some(Payload::Json(v)) => v["n"].as_u64().unwrap(),
            other => panic!("unexpected payload {other:?}"),
        })
        .collect()
}

/// While a thread sends pairs of messages (one operation each, so one group), a snapshot
/// holds a prefix of the pairs: every pair answered before the save began, both messages of
/// a pair or neither (no half group), none sent after the save was answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_during_sends_holds_every_answered_group_and_no_half_one() {
    let dir = tempfile::tempdir().unwrap();
    let app = Running::start(dir.path());
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sender = {
        let (engine, stop, answered) = (app.engine.clone(), stop.clone(), answered.clone());
        std::thread::spawn(move || {
            let mut pair = 0u64;
            while !stop.load(Ordering::SeqCst) {
                engine
                    .apply_blocking(|sim| {
                        for n in [2 * pair, 2 * pair + 1] {
                            let body = Payload::Json(serde_json::json!({ "n": n }));
                            sim.send("jobs", body, SendVia::Binding).unwrap();
                        }
                    })
                    .unwrap();
                pair += 1;
                answered.store(pair, Ordering::SeqCst);
            }
            pair
        })
    };
    while answered.load(Ordering::SeqCst) < 50 {
        tokio::task::yield_now().await;
    }
    let before = answered.load(Ordering::SeqCst);
    let info = app.save("busy", false).await.unwrap();
    let after = answered.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    let total = sender.join().unwrap();

    let fork_dir = dir.path().join("fork");
    fork(dir.path(), "busy", &fork_dir).unwrap();
    let got = held(&load(&fork_dir));
    let pairs = got.len() as u64 / 2;
    assert_eq!(
        got,
        (0..2 * pairs).collect::<BTreeSet<_>>(),
        "a prefix, whole pairs"
    );
    assert!(
        pairs >= before,
        "{pairs} pairs held, {before} answered before the save"
    );
    assert!(
        pairs <= after + 1,
        "{pairs} pairs held, {after} answered by its answer"
    );
    assert!(total > pairs, "sends went on after the snapshot");
    assert_eq!(
        info.messages,
        2 * pairs,
        "the manifest's count is the copy's"
    );
    assert_eq!(info.queues["jobs"], 2 * pairs);
    app.stop().await;
}

/// The object files are copied with the state file, and the copy's recorded stamps are
/// those of the copied files: a watcher on the fork sees no change to announce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_are_copied_and_their_stamps_follow_the_copies() {
    let dir = tempfile::tempdir().unwrap();
    let app = Running::start(dir.path());
    app.put("a/b.txt", b"hello").await;
    app.put("c.bin", &[7u8; 1000]).await;
    let info = app.save("two-objects", false).await.unwrap();
    assert_eq!((info.objects, info.object_bytes), (2, 1005));
    assert_eq!(info.files, 3, "the state file and two objects");

    let fork_dir = dir.path().join("fork");
    fork(dir.path(), "two-objects", &fork_dir).unwrap();
    let file = fork_dir.join("storage/files/a/b.txt");
    assert_eq!(std::fs::read(&file).unwrap(), b"hello");
    let loaded = load(&fork_dir);
    let recorded = loaded.state.objects["files"]
        .iter()
        .find(|o| o.key == "a/b.txt")
        .unwrap();
    assert_eq!(
        recorded.file_stamp.as_deref(),
        Some(stamp(&std::fs::metadata(&file).unwrap()).as_str())
    );
    assert!(
        loaded.processes.is_empty(),
        "the source's processes stay its own"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_checked_and_an_existing_one_is_replaced_only_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let app = Running::start(dir.path());
    for bad in ["", "../up", "a/b", ".hidden", "sp ace", &"x".repeat(65)] {
        let err = app.save(bad, false).await.unwrap_err();
        assert!(
            matches!(err, SnapshotError::InvalidName { .. }) && err.to_string().contains(bad),
            "{bad:?}: {err}"
        );
    }
    let first = app.save("v1.0_ok-1", false).await.unwrap();
    let err = app.save("v1.0_ok-1", false).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "snapshot 'v1.0_ok-1' already exists (save with --force to replace it)"
    );
    let second = app.save("v1.0_ok-1", true).await.unwrap();
    assert_ne!(first.id, second.id);
    let listed = list(dir.path()).unwrap();
    assert_eq!(
        listed,
        vec![second],
        "one snapshot, the newer one, no leftovers"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join(SNAPSHOTS_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["v1.0_ok-1"]);
    app.stop().await;
}

/// Restore puts the state file and the objects back as they were at the snapshot, and the
/// clock resumes at the snapshot's instant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_brings_back_messages_objects_and_the_instant() {
    let dir = tempfile::tempdir().unwrap();
    let app = Running::start(dir.path());
    let send = |n: u64| {
        app.engine.apply(move |sim| {
            let body = Payload::Json(serde_json::json!({ "n": n }));
            sim.send("jobs", body, SendVia::Binding).unwrap();
        })
    };
    send(0).await.unwrap();
    send(1).await.unwrap();
    app.put("keep.txt", b"before").await;
    let info = app.save("before", false).await.unwrap();
    send(2).await.unwrap();
    app.engine
        .apply_with_clock(|sim| sim.advance(std::time::Duration::from_secs(3600)))
        .await
        .unwrap()
        .unwrap();
    Objects::Dirs(app.buckets.clone())
        .delete(&app.engine, "files", "keep.txt")
        .await
        .unwrap();
    app.stop().await;
    assert_eq!(held(&load(dir.path())), BTreeSet::from([0, 1, 2]));

    let restored_at = Utc::now();
    let back = restore(dir.path(), "before").unwrap();
    assert_eq!(back, info);
    let loaded = load(dir.path());
    assert_eq!(held(&loaded), BTreeSet::from([0, 1]));
    assert_eq!(
        std::fs::read(dir.path().join("storage/files/keep.txt")).unwrap(),
        b"before"
    );
    assert_eq!(Some(loaded.clock.now), info.clock_now);
    assert_eq!(
        loaded.clock.now,
        Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()
    );
    assert!(
        loaded.clock.wall >= restored_at,
        "resumes at the instant, not later"
    );
    let names: BTreeSet<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "no staging left: {names:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_refuses_a_non_empty_target_and_an_unknown_name() {
    let dir = tempfile::tempdir().unwrap();
    let app = Running::start(dir.path());
    app.save("s", false).await.unwrap();
    let target = dir.path().join("busy");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("x"), b"mine").unwrap();
    let err = fork(dir.path(), "s", &target).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{} exists and is not an empty directory: fork into a new or empty directory",
            target.display()
        )
    );
    assert_eq!(std::fs::read(target.join("x")).unwrap(), b"mine");
    let err = fork(dir.path(), "nope", &dir.path().join("new")).unwrap_err();
    assert!(
        err.to_string().starts_with("no snapshot 'nope' in "),
        "{err}"
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    fork(dir.path(), "s", &empty).unwrap();
    assert!(empty.join(STATE_FILE).is_file());
    app.stop().await;
}
