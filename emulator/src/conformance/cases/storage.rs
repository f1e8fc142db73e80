//! Storage cases: object round trips on every object store, the change feed, and a bucket's
//! notifications to a queue.

use std::collections::BTreeMap;
use std::time::Duration;

use alien_providers::{
    Payload, PutObjectOptions, QueueProvider, ReceiveOptions, StorageChangeKind, StorageProvider,
};
use serde_json::json;

use super::{Outcome, kind_or, obs, setup};
use crate::Platform;
use crate::conformance::case::{Case, same};
use crate::conformance::{KeyRule, QueueSetup, Target};

/// Storage exists on every platform but Kubernetes, where the stack binds an external one.
const STORAGE_PLATFORMS: &[Platform] = &[
    Platform::Aws,
    Platform::Gcp,
    Platform::Azure,
    Platform::Local,
];
const NO_KUBERNETES_STORAGE: &str = "Kubernetes has no object store of its own: the stack binds an external one (upstream-cloud-semantics.md §0b Kubernetes), covered by those columns";

pub const ROUNDTRIP: Case = Case {
    name: "storage-roundtrip",
    source: "S3 PutObject/GetObject/HeadObject/ListObjectsV2/DeleteObject, GCS objects insert/get/list/delete, Blob Put/Get/List/Delete: content type and user metadata are kept; deleting a missing key succeeds (upstream Storage binding = object_store, upstream-runtime-and-bindings.md §3.3); a key that climbs out of the bucket is refused on every platform (alien_providers::validate::validate_storage_key: local buckets are directories)",
    platforms: STORAGE_PLATFORMS,
    elsewhere: NO_KUBERNETES_STORAGE,
    facts: &[
        same("get", "hello"),
        same("head", "5 bytes, text/plain, owner=conformance"),
        same("list", "a/1.txt"),
        same("after delete", "missing"),
        same("delete again", "ok"),
        same("missing key", "missing"),
        same("put ../escape", "InvalidArgument"),
    ],
};

pub const CHANGE_FEED: Case = Case {
    name: "storage-change-feed",
    source: "published-3.3.49.md §8: storage events created/deleted, delivered at least once; presenting the cursor acknowledges what came before it",
    platforms: STORAGE_PLATFORMS,
    elsewhere: NO_KUBERNETES_STORAGE,
    facts: &[
        same("changes", "created a/1.txt, deleted a/1.txt"),
        same("after the cursor", "0"),
    ],
};

pub const NOTIFICATION_TO_QUEUE: Case = Case {
    name: "storage-notification-to-queue",
    source: "published-3.3.49.md §8: a Storage notifications rule sends one StorageEvent JSON per created object whose key matches the literal prefix/suffix; S3's s3:TestEvent is acked unseen",
    platforms: &[Platform::Aws],
    elsewhere: "checked where a peer sends real bucket notifications to a queue (S3 on moto and LocalStack); GCS and Event Grid deliver their own formats, which the worker runtime converts (upstream-cloud-semantics.md §5.2) and the scenarios storage-event-* cover",
    facts: &[
        same("messages", "1"),
        same("event", "created in/a.txt 5"),
        same("bucketName", "the bucket"),
        same("timestamp", "RFC 3339"),
    ],
};

fn present(found: bool) -> &'static str {
    if found { "present" } else { "missing" }
}

pub async fn roundtrip<T: Target>(target: &T, run_id: &str) -> Outcome {
    let st = setup(target.storage(&format!("conf-{run_id}-bucket")).await)?;
    let options = PutObjectOptions {
        content_type: Some("text/plain".into()),
        metadata: BTreeMap::from([("owner".to_string(), "conformance".to_string())]),
    };
    st.put("a/1.txt", b"hello".to_vec(), options).await?;
    let got = st.get("a/1.txt").await?;
    let mut out = vec![obs(
        "get",
        got.map_or("missing".into(), |o| {
            String::from_utf8_lossy(&o.body).into_owned()
        }),
    )];
    let head = st.head("a/1.txt").await?;
    out.push(obs(
        "head",
        head.map_or("missing".into(), |m| {
            let metadata: Vec<String> =
                m.metadata.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!(
                "{} bytes, {}, {}",
                m.size,
                m.content_type.as_deref().unwrap_or("no content type"),
                metadata.join(",")
            )
        }),
    ));
    let listed = st.list("a/", None).await?;
    let keys: Vec<String> = listed.objects.iter().map(|o| o.key.clone()).collect();
    out.push(obs("list", keys.join(",")));
    st.delete("a/1.txt").await?;
    out.push(obs(
        "after delete",
        present(st.get("a/1.txt").await?.is_some()),
    ));
    out.push(obs(
        "delete again",
        match st.delete("a/1.txt").await {
            Ok(()) => "ok".to_string(),
            Err(e) => e.kind.name().to_string(),
        },
    ));
    let missing = st.get("never-written").await?;
    out.push(obs("missing key", present(missing.is_some())));
    let escape = st
        .put("../escape", b"x".to_vec(), PutObjectOptions::default())
        .await;
    out.push(obs("put ../escape", kind_or(escape, "ok")));
    Ok(out)
}

pub async fn change_feed<T: Target>(target: &T, run_id: &str) -> Outcome {
    let st = setup(
        target
            .changing_storage(&format!("conf-{run_id}-feed"))
            .await,
    )?;
    st.put("a/1.txt", b"hello".to_vec(), PutObjectOptions::default())
        .await?;
    st.delete("a/1.txt").await?;
    let mut changes = Vec::new();
    let mut cursor = None;
    for _ in 0..20 {
        let page = setup(st.changes_since(cursor.clone()).await)?;
        changes.extend(page.changes);
        cursor = Some(page.cursor);
        if changes.len() >= 2 {
            break;
        }
        target.sleep(Duration::from_millis(500)).await;
    }
    let seen: Vec<String> = changes
        .iter()
        .map(|c| {
            let kind = match c.event {
                StorageChangeKind::Created => "created",
                StorageChangeKind::Deleted => "deleted",
            };
            format!("{kind} {}", c.key)
        })
        .collect();
    let after = st.changes_since(cursor).await?;
    Ok(vec![
        obs("changes", seen.join(", ")),
        obs("after the cursor", after.changes.len().to_string()),
    ])
}

pub async fn notification_to_queue<T: Target>(target: &T, run_id: &str) -> Outcome {
    let bucket = format!("conf-{run_id}-notify");
    let rule = KeyRule {
        prefix: Some("in/".into()),
        suffix: Some(".txt".into()),
    };
    let queue = QueueSetup {
        name: format!("conf-{run_id}-notify"),
        visibility_timeout: Duration::from_secs(30),
        max_message_bytes: None,
        max_receive_count: None,
    };
    let (st, q) = setup(target.notifying_storage(&bucket, &queue, &rule).await)?;
    for key in ["in/a.txt", "out/b.txt", "in/c.bin"] {
        st.put(key, b"hello".to_vec(), PutObjectOptions::default())
            .await?;
    }
    // Peers deliver notifications asynchronously: poll until one arrives, then a little
    // longer for any that should not.
    let mut got = Vec::new();
    let mut quiet_polls = 0;
    for _ in 0..30 {
        got.extend(q.receive(ReceiveOptions::new(10)).await?);
        if !got.is_empty() {
            quiet_polls += 1;
            if quiet_polls > 3 {
                break;
            }
        }
        target.sleep(Duration::from_millis(500)).await;
    }
    for m in &got {
        q.ack(&m.receipt).await?;
    }
    let event = got.first().map(|m| match &m.payload {
        Payload::Json(v) => v.clone(),
        Payload::Text(t) => json!({"text": t}),
    });
    let field = |name: &str| {
        event
            .as_ref()
            .and_then(|e| e.get(name))
            .map_or("none".to_string(), |v| {
                v.as_str().map_or_else(|| v.to_string(), str::to_string)
            })
    };
    let name = field("bucketName");
    let timestamp = field("timestamp");
    Ok(vec![
        obs("messages", got.len().to_string()),
        obs(
            "event",
            format!(
                "{} {} {}",
                field("eventType"),
                field("objectKey"),
                field("size")
            ),
        ),
        obs(
            "bucketName",
            if name == bucket {
                "the bucket".into()
            } else {
                name
            },
        ),
        obs(
            "timestamp",
            if chrono::DateTime::parse_from_rfc3339(&timestamp).is_ok() {
                "RFC 3339".into()
            } else {
                timestamp
            },
        ),
    ])
}
