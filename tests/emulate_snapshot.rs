//! Acceptance: snapshots of `alien emulate`'s state (issue 14 item 5: "`alien ctl snapshot
//! save NAME`, `restore NAME` and `fork NAME` give consistent copies: the SQLite backup API
//! plus the storage directories, taken at a commit point. The harness offers the same."), with
//! the real fixture app on the published alien-sdk 3.3.49 (stack
//! tests/fixtures/stacks/emulate-state, whose `backlog` queue has no consumer, so its depth
//! only changes by sends).
//!
//! - a snapshot restored: messages and an object saved, more sent and the object deleted,
//!   then the restored emulator holds the saved messages (same ids) and bytes again, at the
//!   snapshot's virtual instant;
//! - a fork diverging: a second emulator on the forked directory changes, the original not.
//!
//! Time moves by `POST /clock/advance`, never by sleeping.

mod common;

use std::path::Path;

use alien_emulator::harness::Harness;
use common::{Emulate, advance, alien, ctl, now, send_to, start_stack};
use serde_json::{Value, json};

const STACK: &str = "tests/fixtures/stacks/emulate-state";

/// The ids `backlog` holds, in order.
fn backlog(e: &Emulate) -> Vec<String> {
    let (code, out, err) = ctl(e, &["peek", "backlog"]);
    assert_eq!(code, 0, "{err}");
    let held: Vec<Value> = serde_json::from_slice(&out).unwrap();
    held.iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

fn object(e: &Emulate, key: &str) -> Option<Vec<u8>> {
    let (code, out, _) = ctl(e, &["get", "uploads", key]);
    (code == 0).then_some(out)
}

fn put(e: &Emulate, key: &str, body: &str, dir: &Path) {
    let file = dir.join("body");
    std::fs::write(&file, body).unwrap();
    let (code, _, err) = ctl(e, &["put", "uploads", key, file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
}

/// `alien ctl --state-dir <state> snapshot <args>` (offline verbs).
fn snapshot_offline(state: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["ctl", "--state-dir", state.to_str().unwrap(), "snapshot"];
    all.extend_from_slice(args);
    let out = alien(&all);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_snapshot_is_restored_and_a_fork_diverges() {
    let dir = tempfile::tempdir().unwrap();
    let (state, forked) = (dir.path().join("state"), dir.path().join("forked"));
    let mut e = start_stack(STACK, "aws", &state, &[]);
    let saved_ids: Vec<String> = (0..3)
        .map(|n| send_to(&e, "backlog", json!({"n": n})))
        .collect();
    put(&e, "keep.txt", "saved bytes", dir.path());
    advance(&e, "10m");
    let instant = now(&e);

    // `alien ctl snapshot save s1 --json`: the figures read back from the copy.
    let (code, out, err) = ctl(&e, &["snapshot", "save", "s1", "--json"]);
    assert_eq!(code, 0, "{err}");
    let info: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(info["name"], "s1");
    assert_eq!(info["queues"]["backlog"], 3);
    assert_eq!(info["objects"], 1);
    assert_eq!(info["object_bytes"], "saved bytes".len());
    let held: chrono::DateTime<chrono::Utc> = info["clock_now"].as_str().unwrap().parse().unwrap();
    assert!(
        held >= instant && held < instant + chrono::TimeDelta::minutes(1),
        "the snapshot holds {held}, the engine said {instant} just before"
    );
    assert!(
        state.join("snapshots/s1/state.sqlite").is_file()
            && state
                .join("snapshots/s1/storage/uploads/keep.txt")
                .is_file()
    );

    // A name in use is refused without --force; a bad name names itself.
    let (code, _, err) = ctl(&e, &["snapshot", "save", "s1"]);
    assert_eq!(code, 2);
    assert!(err.contains("snapshot 's1' already exists"), "{err}");
    let (code, _, err) = ctl(&e, &["snapshot", "save", "../up"]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid snapshot name \"../up\""), "{err}");
    let (code, out, err) = ctl(&e, &["snapshot", "list"]);
    assert_eq!(code, 0, "{err}");
    let listed = String::from_utf8_lossy(&out);
    assert!(
        listed.contains("s1") && listed.contains(&held.to_rfc3339()),
        "{listed}"
    );

    // After the snapshot: more messages, the object deleted, time moved on.
    send_to(&e, "backlog", json!({"n": 3}));
    send_to(&e, "backlog", json!({"n": 4}));
    let (code, _, err) = ctl(&e, &["delete", "uploads", "keep.txt"]);
    assert_eq!(code, 0, "{err}");
    advance(&e, "1h");
    assert_eq!(backlog(&e).len(), 5);
    assert_eq!(object(&e, "keep.txt"), None);

    // Restore is offline: refused while the emulator answers on the directory.
    let (code, _, err) = snapshot_offline(&state, &["restore", "s1"]);
    assert_eq!(code, 2);
    assert!(err.contains("an emulator is running on"), "{err}");
    e.child.kill().unwrap();
    e.child.wait().unwrap();
    let (code, out, err) = snapshot_offline(&state, &["restore", "s1"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("resumes at virtual time {}", held.to_rfc3339())),
        "{out}"
    );

    let e = start_stack(STACK, "aws", &state, &[]);
    assert_eq!(
        backlog(&e),
        saved_ids,
        "the saved queue depth, the same messages"
    );
    assert_eq!(object(&e, "keep.txt").as_deref(), Some(&b"saved bytes"[..]));
    let resumed = now(&e);
    assert!(
        resumed >= held && resumed < held + chrono::TimeDelta::minutes(5),
        "resumed at {resumed}, the snapshot holds {held}"
    );

    // Fork: a new state directory from the snapshot; changing it leaves the original alone.
    let (code, out, err) =
        snapshot_offline(&state, &["fork", "s1", "--into", forked.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("forked snapshot 's1'"), "{out}");
    let (code, _, err) =
        snapshot_offline(&state, &["fork", "s1", "--into", forked.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("is not an empty directory"), "{err}");
    let f = start_stack(STACK, "aws", &forked, &[]);
    assert_eq!(backlog(&f), saved_ids);
    let only_in_fork = send_to(&f, "backlog", json!({"n": 9}));
    let (code, _, err) = ctl(&f, &["delete", "uploads", "keep.txt"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(backlog(&f).len(), 4);
    assert!(backlog(&f).contains(&only_in_fork));
    assert_eq!(object(&f, "keep.txt"), None);
    assert_eq!(backlog(&e), saved_ids, "the original did not change");
    assert_eq!(object(&e, "keep.txt").as_deref(), Some(&b"saved bytes"[..]));
}

/// The harness offers the same: `snapshot`, `restore` (the emulator restarts on the
/// snapshot) and `fork` (a second emulator on a copy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_harness_snapshots_restores_and_forks() {
    let stack = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stacks/emulate-state"
    );
    let mut app = Harness::start(stack, "aws").await.expect("start");
    let kept = app.send("backlog", json!({"n": 1})).await.unwrap();
    app.put("uploads", "k.txt", b"v1").await.unwrap();
    let info = app.snapshot("h1").await.unwrap();
    assert_eq!(info.queues["backlog"], 1);

    app.send("backlog", json!({"n": 2})).await.unwrap();
    app.put("uploads", "k.txt", b"v2").await.unwrap();
    app.advance("1h").await.unwrap();
    assert_eq!(app.peek("backlog").await.unwrap().len(), 2);

    let back = app.restore("h1").await.unwrap();
    let ids: Vec<String> = app
        .peek("backlog")
        .await
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, [kept]);
    assert_eq!(
        app.get("uploads", "k.txt").await.unwrap().as_deref(),
        Some(&b"v1"[..])
    );
    assert_eq!(back.clock_now, info.clock_now);

    let fork = app.fork("h1").await.unwrap();
    fork.send("backlog", json!({"n": 3})).await.unwrap();
    assert_eq!(fork.peek("backlog").await.unwrap().len(), 2);
    assert_eq!(
        app.peek("backlog").await.unwrap().len(),
        1,
        "the original is unchanged"
    );
    fork.stop().await;
    app.stop().await;
}
