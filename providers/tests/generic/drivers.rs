//! Generic drivers: written only against the traits, so the same code can later run against
//! the emulator or a cloud adapter. Each panics on the first contract violation.

use std::collections::BTreeMap;
use std::time::Duration;

use alien_providers::{
    DaemonProvider, ErrorKind, KvProvider, Payload, PutCondition, PutObjectOptions, PutOptions,
    QueueProvider, ReceiveOptions, ScheduleProvider, ScheduleTrigger, SendOutcome,
    StorageChangeKind, StorageProvider, WorkerInvokeRequest, WorkerProvider,
};
use chrono::{TimeZone, Utc};
use serde_json::json;

/// Send, receive, ack, nack, renew, batch send, purge and counts.
pub async fn queue_roundtrip<Q: QueueProvider>(queue: &Q) {
    let first = queue
        .send(Payload::Json(json!({"job": 1})))
        .await
        .expect("send json");
    queue
        .send(Payload::Text("two".into()))
        .await
        .expect("send text");

    let batch = queue
        .receive(ReceiveOptions::new(10))
        .await
        .expect("receive");
    assert_eq!(batch.len(), 2);
    assert_eq!(batch[0].id, first);
    assert_eq!(batch[0].payload, Payload::Json(json!({"job": 1})));
    assert!(batch.iter().all(|m| m.attempt == 1));
    let attrs = queue.attributes().await.expect("attributes");
    assert_eq!(
        (attrs.approximate_visible, attrs.approximate_in_flight),
        (0, 2)
    );

    queue.ack(&batch[0].receipt).await.expect("ack");
    queue
        .ack(&batch[0].receipt)
        .await
        .expect("ack is idempotent");
    queue.nack(&batch[1].receipt).await.expect("nack");

    let again = queue
        .receive(ReceiveOptions::new(1))
        .await
        .expect("receive again");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].payload, Payload::Text("two".into()));
    assert_eq!(again[0].attempt, 2, "nack keeps the attempt count");
    queue
        .change_visibility(&again[0].receipt, Duration::from_secs(120))
        .await
        .expect("renew a held lease");
    queue.ack(&again[0].receipt).await.expect("ack after renew");

    let outcomes = queue
        .send_batch(vec![
            Payload::Text("a".into()),
            Payload::Text("x".repeat(70_000)),
            Payload::Json(json!(3)),
        ])
        .await
        .expect("send_batch");
    assert!(matches!(
        outcomes.as_slice(),
        [
            SendOutcome::Sent(_),
            SendOutcome::Rejected(_),
            SendOutcome::Sent(_)
        ]
    ));
    assert_eq!(
        queue
            .attributes()
            .await
            .expect("attributes")
            .approximate_visible,
        2
    );
    queue.purge().await.expect("purge");
    assert!(
        queue
            .receive(ReceiveOptions::new(10))
            .await
            .expect("receive")
            .is_empty()
    );
}

/// A receipt superseded by a redelivery is stale for ack, nack and renew.
pub async fn queue_stale_receipt<Q: QueueProvider>(queue: &Q) {
    queue.send(Payload::Text("m".into())).await.expect("send");
    let old = queue
        .receive(ReceiveOptions::new(1))
        .await
        .expect("receive")
        .remove(0);
    queue.nack(&old.receipt).await.expect("nack");
    let new = queue
        .receive(ReceiveOptions::new(1))
        .await
        .expect("receive")
        .remove(0);
    assert_ne!(old.receipt, new.receipt);

    let ack = queue.ack(&old.receipt).await.expect_err("stale ack");
    assert_eq!(ack.kind, ErrorKind::StaleReceipt);
    assert_eq!(ack.code(), "QUEUE_OPERATION_FAILED");
    let nack = queue.nack(&old.receipt).await.expect_err("stale nack");
    assert_eq!(nack.kind, ErrorKind::StaleReceipt);
    let renew = queue
        .change_visibility(&old.receipt, Duration::from_secs(5))
        .await
        .expect_err("stale renew");
    assert_eq!(renew.kind, ErrorKind::StaleReceipt);
    queue
        .ack(&new.receipt)
        .await
        .expect("current receipt still works");
}

/// Shared validation surfaces identical kinds and codes.
pub async fn queue_validation<Q: QueueProvider>(queue: &Q) {
    let err = queue
        .receive(ReceiveOptions::new(11))
        .await
        .expect_err("11 > 10");
    assert_eq!(
        (err.kind.name(), err.code()),
        ("InvalidArgument", "BINDING_SETUP_FAILED")
    );

    let err = queue
        .send(Payload::Text("x".repeat(65_537)))
        .await
        .expect_err("oversize");
    assert_eq!(
        err.kind,
        ErrorKind::PayloadTooLarge {
            size: 65_537,
            limit: 65_536
        }
    );

    queue.send(Payload::Text("m".into())).await.expect("send");
    let held = queue
        .receive(ReceiveOptions::new(1))
        .await
        .expect("receive")
        .remove(0);
    let err = queue
        .change_visibility(&held.receipt, Duration::from_secs(601))
        .await
        .expect_err("601 s");
    assert_eq!(err.code(), "INVALID_INPUT");
}

/// Put, head, get, paginated list, delete and the change feed.
pub async fn storage_roundtrip<S: StorageProvider>(storage: &S) {
    let options = PutObjectOptions {
        content_type: Some("text/plain".into()),
        metadata: BTreeMap::from([("owner".into(), "ops".into())]),
    };
    let put = storage
        .put("logs/a.txt", b"hello".to_vec(), options)
        .await
        .expect("put");
    assert_eq!(put.size, 5);
    for key in ["logs/b.txt", "logs/c.txt", "other.txt"] {
        storage
            .put(key, Vec::new(), PutObjectOptions::default())
            .await
            .expect("put");
    }

    let head = storage
        .head("logs/a.txt")
        .await
        .expect("head")
        .expect("exists");
    assert_eq!(
        (head.etag.as_str(), head.content_type.as_deref()),
        (put.etag.as_str(), Some("text/plain"))
    );
    let object = storage
        .get("logs/a.txt")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(object.body, b"hello");
    assert_eq!(
        object.meta.metadata.get("owner").map(String::as_str),
        Some("ops")
    );
    assert!(storage.get("missing").await.expect("get").is_none());

    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let page = storage.list("logs/", cursor).await.expect("list");
        keys.extend(page.objects.into_iter().map(|o| o.key));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(keys, ["logs/a.txt", "logs/b.txt", "logs/c.txt"]);

    let err = storage
        .put("../escape", Vec::new(), PutObjectOptions::default())
        .await
        .expect_err("unsafe key");
    assert_eq!(err.kind, ErrorKind::InvalidArgument);

    let seen = storage.changes_since(None).await.expect("changes");
    assert_eq!(seen.changes.len(), 4);
    storage.delete("logs/a.txt").await.expect("delete");
    storage
        .delete("logs/a.txt")
        .await
        .expect("delete is idempotent");
    let next = storage
        .changes_since(Some(seen.cursor))
        .await
        .expect("changes");
    assert_eq!(next.changes.len(), 1);
    assert_eq!(
        (next.changes[0].event, next.changes[0].key.as_str()),
        (StorageChangeKind::Deleted, "logs/a.txt")
    );
}

/// Conditional puts and deletes, exists, validation and a paginated prefix scan.
pub async fn kv_roundtrip<K: KvProvider>(kv: &K) {
    let absent = PutOptions {
        ttl: None,
        condition: PutCondition::Absent,
    };
    assert!(
        kv.put("user:1", b"ann".to_vec(), absent.clone())
            .await
            .expect("put")
    );
    assert!(
        !kv.put("user:1", b"bob".to_vec(), absent)
            .await
            .expect("put absent fails")
    );

    let entry = kv.get("user:1").await.expect("get").expect("exists");
    assert_eq!(entry.value, b"ann");
    let stale_version = entry.version.clone();
    let by_version = PutOptions {
        ttl: None,
        condition: PutCondition::Version(entry.version),
    };
    assert!(
        kv.put("user:1", b"ann2".to_vec(), by_version.clone())
            .await
            .expect("put")
    );
    assert!(
        !kv.put("user:1", b"ann3".to_vec(), by_version)
            .await
            .expect("old version fails")
    );
    assert!(
        !kv.delete("user:1", Some(&stale_version))
            .await
            .expect("delete with old version")
    );
    assert!(kv.exists("user:1").await.expect("exists"));

    let err = kv
        .put("a b", Vec::new(), PutOptions::default())
        .await
        .expect_err("bad key");
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
    let err = kv
        .put("big", vec![0; 24_577], PutOptions::default())
        .await
        .expect_err("big value");
    assert_eq!(err.message, "Value exceeds 24576 bytes");

    for key in ["user:2", "user:3", "team:1"] {
        kv.put(key, Vec::new(), PutOptions::default())
            .await
            .expect("put");
    }
    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let page = kv
            .scan_prefix("user:", Some(2), cursor)
            .await
            .expect("scan");
        keys.extend(page.items.into_iter().map(|e| e.key));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys, ["user:1", "user:2", "user:3"]);

    assert!(kv.delete("user:1", None).await.expect("delete"));
    assert!(!kv.delete("user:1", None).await.expect("delete absent"));
    assert!(kv.get("user:1").await.expect("get").is_none());
}

/// A request reaches the target and the response comes back; unknown targets are NotFound.
pub async fn worker_invoke<W: WorkerProvider>(worker: &W) {
    let request = WorkerInvokeRequest {
        target_worker: "echo".into(),
        method: "POST".into(),
        path: "/jobs".into(),
        headers: BTreeMap::from([("x-trace".into(), "t1".into())]),
        body: b"{}".to_vec(),
        timeout: Some(Duration::from_secs(5)),
    };
    let response = worker.invoke(request.clone()).await.expect("invoke");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"POST /jobs\n{}");
    assert_eq!(
        response.headers.get("x-trace").map(String::as_str),
        Some("t1")
    );

    let missing = WorkerInvokeRequest {
        target_worker: "nope".into(),
        ..request
    };
    assert_eq!(
        worker.invoke(missing).await.expect_err("unknown").kind,
        ErrorKind::NotFound
    );
}

/// Register, list fire times in a window, remove.
pub async fn schedule_roundtrip<S: ScheduleProvider>(schedules: &S) {
    let trigger = ScheduleTrigger {
        target: "reporter".into(),
        cron: "*/15 * * * *".into(),
    };
    let registration = schedules.register(trigger).await.expect("register");
    assert_eq!(registration.expression, "rate(15 minutes)");

    let from = Utc
        .with_ymd_and_hms(2026, 1, 1, 10, 5, 0)
        .single()
        .expect("valid time");
    let until = Utc
        .with_ymd_and_hms(2026, 1, 1, 11, 0, 0)
        .single()
        .expect("valid time");
    let fires = schedules
        .fire_times(&registration.id, from, until, 10)
        .await
        .expect("fire times");
    let minutes: Vec<_> = fires
        .iter()
        .map(|t| t.format("%H:%M").to_string())
        .collect();
    assert_eq!(minutes, ["10:15", "10:30", "10:45"]);

    schedules.remove(&registration.id).await.expect("remove");
    let err = schedules
        .remove(&registration.id)
        .await
        .expect_err("already removed");
    assert_eq!(err.kind, ErrorKind::NotFound);
}

/// Start, stop with a grace period, status; unknown daemons are NotFound.
pub async fn daemon_lifecycle<D: DaemonProvider>(daemons: &D) {
    assert!(!daemons.status("indexer").await.expect("status").running);
    assert!(daemons.start("indexer").await.expect("start").running);
    let stopped = daemons
        .stop("indexer", Duration::from_secs(30))
        .await
        .expect("stop");
    assert!(!stopped.running);
    assert_eq!(stopped.last_exit.and_then(|exit| exit.code), Some(0));
    assert_eq!(
        daemons.start("ghost").await.expect_err("unknown").kind,
        ErrorKind::NotFound
    );
}
