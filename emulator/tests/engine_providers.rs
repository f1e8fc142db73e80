//! The provider traits implemented by the simulation: the same generic code a real cloud
//! adapter runs drives the emulator, on every platform profile.

use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use alien_emulator::Platform;
use alien_emulator::engine::{
    EmulatedDaemons, EmulatedKv, EmulatedQueue, EmulatedSchedules, EmulatedStorage,
    EmulatedWorkers, SharedSim, Sim, SimConfig, shared,
};
use alien_emulator::profile::Profile;
use alien_emulator::stack::parse_stack_json;
use alien_providers::{
    DaemonProvider, ErrorKind, KvProvider, Payload, PutCondition, PutObjectOptions, PutOptions,
    QueueProvider, ReceiveOptions, ScheduleProvider, ScheduleTrigger, StorageProvider,
    WorkerInvokeRequest, WorkerProvider,
};
use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::json;

/// The emulator's futures complete at once; a minimal executor is enough.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fn sim(platform: Platform) -> SharedSim {
    let doc = json!({"id": "demo", "resources": {
        "jobs": {"config": {"type": "queue", "id": "jobs"}, "lifecycle": "frozen", "dependencies": []},
        "files": {"config": {"type": "storage", "id": "files"}, "lifecycle": "frozen", "dependencies": []},
        "cache": {"config": {"type": "kv", "id": "cache"}, "lifecycle": "frozen", "dependencies": []},
        "backend": {"config": {"type": "worker", "id": "backend", "links": [], "triggers": [], "permissions": "execution",
            "code": {"type": "image", "image": "x:1"}, "memoryMb": 1024}, "lifecycle": "live", "dependencies": []},
        "agent": {"config": {"type": "daemon", "id": "agent", "links": [], "permissions": "execution",
            "code": {"type": "image", "image": "x:1"}}, "lifecycle": "live", "dependencies": []}
    }});
    let stack = parse_stack_json(&doc.to_string(), Path::new("demo.json")).unwrap();
    let profile = Profile::new(platform, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap();
    shared(Sim::new(
        &stack,
        profile,
        SimConfig::new(1, Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()),
    ))
}

fn advance(sim: &SharedSim, d: Duration) {
    sim.lock().unwrap().advance(d).unwrap();
}

/// A driver written only against the trait, as a conformance suite would be.
async fn queue_roundtrip<Q: QueueProvider>(q: &Q) -> (u32, u32) {
    q.send(Payload::Json(json!({"n": 1}))).await.unwrap();
    let first = q.receive(ReceiveOptions::new(10)).await.unwrap();
    assert_eq!(first.len(), 1);
    q.nack(&first[0].receipt).await.unwrap();
    let second = q.receive(ReceiveOptions::new(10)).await.unwrap();
    q.ack(&second[0].receipt).await.unwrap();
    assert!(q.receive(ReceiveOptions::new(10)).await.unwrap().is_empty());
    (first[0].attempt, second[0].attempt)
}

/// published-3.3.49.md §4.5: nack keeps the attempt count (real counts on Local and SQS via
/// ApproximateReceiveCount; Pub/Sub pull reports 1).
#[test]
fn queue_binding_roundtrip_per_platform() {
    for (platform, attempts) in [
        (Platform::Aws, (1, 2)),
        (Platform::Gcp, (1, 1)),
        (Platform::Azure, (1, 2)),
        (Platform::Local, (1, 2)),
    ] {
        let s = sim(platform);
        let q = EmulatedQueue {
            sim: s.clone(),
            queue: "jobs".into(),
        };
        assert_eq!(block_on(queue_roundtrip(&q)), attempts, "{platform}");
    }
}

/// published-3.3.49.md §4.5: an ack with a receipt superseded by a redelivery is stale; renew
/// outside 1..=600 s is invalid input; oversize sends are rejected with the binding text.
#[test]
fn queue_binding_rules() {
    let s = sim(Platform::Local);
    let q = EmulatedQueue {
        sim: s.clone(),
        queue: "jobs".into(),
    };
    block_on(q.send(Payload::Text("x".into()))).unwrap();
    let old = block_on(q.receive(ReceiveOptions::new(1)))
        .unwrap()
        .remove(0);
    advance(&s, Duration::from_secs(31));
    let new = block_on(q.receive(ReceiveOptions::new(1)))
        .unwrap()
        .remove(0);
    assert_eq!(new.attempt, 2);
    let stale = block_on(q.ack(&old.receipt)).unwrap_err();
    assert_eq!(stale.kind, ErrorKind::StaleReceipt);
    let bad = block_on(q.change_visibility(&new.receipt, Duration::from_secs(601))).unwrap_err();
    assert_eq!(bad.kind, ErrorKind::InvalidArgument);
    block_on(q.change_visibility(&new.receipt, Duration::from_secs(120))).unwrap();
    advance(&s, Duration::from_secs(60));
    assert!(
        block_on(q.receive(ReceiveOptions::new(1)))
            .unwrap()
            .is_empty(),
        "renewed lease still holds"
    );
    block_on(q.ack(&new.receipt)).unwrap();
    let err = block_on(q.send(Payload::Text("x".repeat(70_000)))).unwrap_err();
    assert_eq!(
        err.message,
        "Message size 70000 bytes exceeds limit of 65536 bytes"
    );
    let attrs = block_on(q.attributes()).unwrap();
    assert_eq!(
        (attrs.approximate_visible, attrs.visibility_timeout),
        (0, Duration::from_secs(30))
    );
}

#[test]
fn storage_and_change_feed() {
    let s = sim(Platform::Aws);
    let st = EmulatedStorage {
        sim: s.clone(),
        bucket: "files".into(),
    };
    let put = block_on(st.put(
        "a/1.txt",
        b"hello".to_vec(),
        PutObjectOptions {
            content_type: Some("text/plain".into()),
            ..Default::default()
        },
    ))
    .unwrap();
    assert_eq!(put.size, 5);
    let got = block_on(st.get("a/1.txt")).unwrap().unwrap();
    assert_eq!(
        (got.body.as_slice(), got.meta.content_type.as_deref()),
        (&b"hello"[..], Some("text/plain"))
    );
    assert_eq!(block_on(st.list("a/", None)).unwrap().objects.len(), 1);
    block_on(st.delete("a/1.txt")).unwrap();
    assert!(block_on(st.head("a/1.txt")).unwrap().is_none());
    let page = block_on(st.changes_since(None)).unwrap();
    assert_eq!(page.changes.len(), 2);
    assert!(
        block_on(st.changes_since(Some(page.cursor)))
            .unwrap()
            .changes
            .is_empty()
    );
    assert_eq!(
        block_on(st.put("../etc", vec![], PutObjectOptions::default()))
            .unwrap_err()
            .kind,
        ErrorKind::InvalidArgument
    );
}

#[test]
fn kv_conditions_and_scan() {
    let s = sim(Platform::Gcp);
    let kv = EmulatedKv {
        sim: s.clone(),
        store: "cache".into(),
    };
    assert!(
        block_on(kv.put(
            "user:1",
            b"a".to_vec(),
            PutOptions {
                ttl: None,
                condition: PutCondition::Absent
            }
        ))
        .unwrap()
    );
    let entry = block_on(kv.get("user:1")).unwrap().unwrap();
    assert!(
        !block_on(kv.put(
            "user:1",
            b"b".to_vec(),
            PutOptions {
                ttl: None,
                condition: PutCondition::Version("nope".into())
            }
        ))
        .unwrap()
    );
    assert!(
        block_on(kv.put(
            "user:1",
            b"b".to_vec(),
            PutOptions {
                ttl: None,
                condition: PutCondition::Version(entry.version)
            }
        ))
        .unwrap()
    );
    block_on(kv.put("user:2", b"c".to_vec(), PutOptions::default())).unwrap();
    let first = block_on(kv.scan_prefix("user:", Some(1), None)).unwrap();
    assert_eq!(first.items.len(), 1);
    let rest = block_on(kv.scan_prefix("user:", Some(1), first.next_cursor)).unwrap();
    assert_eq!(
        (rest.items[0].key.as_str(), rest.next_cursor),
        ("user:2", None)
    );
}

/// upstream-stack-and-limits.md §4.2-§4.3: the platform form of the schedule and the name
/// the worker sees.
#[test]
fn schedules_in_the_platform_dialect() {
    let trigger = ScheduleTrigger {
        target: "backend".into(),
        cron: "0 18 * * 5".into(),
    };
    let aws = EmulatedSchedules::new(sim(Platform::Aws));
    let reg = block_on(aws.register(trigger.clone())).unwrap();
    assert_eq!(reg.expression, "cron(0 18 ? * 5 *)");
    assert!(reg.schedule_name.starts_with("arn:aws:events:"));
    let from = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
    let times =
        block_on(aws.fire_times(&reg.id, from, from + chrono::Duration::days(14), 10)).unwrap();
    assert_eq!(
        times
            .iter()
            .map(|t| t.format("%a").to_string())
            .collect::<Vec<_>>(),
        ["Thu", "Thu"]
    );
    let local = EmulatedSchedules::new(sim(Platform::Local));
    assert_eq!(
        block_on(local.register(trigger)).unwrap().schedule_name,
        "0 18 * * 5"
    );
    let bad = block_on(aws.register(ScheduleTrigger {
        target: "backend".into(),
        cron: "*/1 * * * *".into(),
    }))
    .unwrap_err();
    assert_eq!(bad.kind, ErrorKind::InvalidArgument);
}

/// Seed 000: worker-to-worker calls reach private workers; the target's limits apply.
#[test]
fn worker_invoke_and_limits() {
    let request = |bytes: usize| WorkerInvokeRequest {
        target_worker: "backend".into(),
        method: "POST".into(),
        path: "/resize".into(),
        body: vec![0; bytes],
        timeout: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    let aws = EmulatedWorkers {
        sim: sim(Platform::Aws),
    };
    assert_eq!(block_on(aws.invoke(request(10))).unwrap().status, 200);
    assert_eq!(
        block_on(aws.invoke(request(7 * 1024 * 1024)))
            .unwrap()
            .status,
        413
    );
    let gcp = EmulatedWorkers {
        sim: sim(Platform::Gcp),
    };
    assert_eq!(
        block_on(gcp.invoke(request(7 * 1024 * 1024)))
            .unwrap()
            .status,
        200
    );
}

/// Seed 004: daemons run on Local and Kubernetes only.
#[test]
fn daemon_control() {
    let local = EmulatedDaemons {
        sim: sim(Platform::Local),
    };
    assert!(block_on(local.status("agent")).unwrap().running);
    let stopped = block_on(local.stop("agent", Duration::from_secs(5))).unwrap();
    assert!(stopped.running, "still stopping until it exits");
    advance(&local.sim, Duration::from_secs(1));
    assert!(!block_on(local.status("agent")).unwrap().running);
    assert!(block_on(local.start("agent")).unwrap().running);
    let aws = EmulatedDaemons {
        sim: sim(Platform::Aws),
    };
    assert_eq!(
        block_on(aws.start("agent")).unwrap_err().kind,
        ErrorKind::InvalidArgument
    );
}
