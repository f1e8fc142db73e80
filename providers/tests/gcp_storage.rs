//! The GCP storage adapter against fake-gcs-server (`ALIEN_FAKE_GCS_URL`, started by
//! `scripts/peers/fake-gcs.sh start`), its change feed against fake-gcs-server publishing
//! to Google's Pub/Sub emulator (`ALIEN_PUBSUB_EMULATOR_URL`, `ALIEN_FAKE_GCS_EVENTS_TOPIC`),
//! and the JSON API requests fake-gcs-server does not serve against wiremock.
#![cfg(feature = "gcp")]

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use alien_providers::gcp::{GcpClients, GcpConfig, GcpStorage, PubSubQueueSpec};
use alien_providers::{
    ChangeCursor, ErrorKind, PutObjectOptions, StorageChange, StorageChangeKind, StorageProvider,
};
use serde_json::json;
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PROJECT: &str = "alien-local";

/// The value of `var`, or `None` (skip) when unset outside CI; in CI a missing peer fails.
fn peer(var: &str, start: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Some(value),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{var} is not set; start the peer with {start}")
        }
        _ => {
            eprintln!("skipped: {var} is not set ({start})");
            None
        }
    }
}

fn fake_gcs() -> Option<String> {
    peer(
        "ALIEN_FAKE_GCS_URL",
        "`export ALIEN_FAKE_GCS_URL=$(bash scripts/peers/fake-gcs.sh start)`",
    )
}

/// A bucket name no other test (or earlier run against the same server) uses.
fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{name}-{nanos}")
}

async fn clients(pubsub: Option<&str>, storage: &str) -> GcpClients {
    GcpClients::new(&GcpConfig::for_emulators(PROJECT, pubsub, Some(storage)))
        .await
        .expect("clients")
}

async fn bucket(url: &str, name: &str) -> GcpStorage {
    clients(None, url)
        .await
        .create_bucket(&unique(name))
        .await
        .expect("create_bucket")
}

// JSON API buckets.insert: a name already taken answers 409 → AlreadyExists.
#[tokio::test]
async fn create_bucket_twice_is_already_exists() {
    let Some(url) = fake_gcs() else { return };
    let clients = clients(None, &url).await;
    let name = unique("twice");
    let storage = clients.create_bucket(&name).await.expect("create_bucket");
    assert_eq!(storage.bucket_name(), name);
    let again = clients
        .create_bucket(&name)
        .await
        .expect_err("second create");
    assert_eq!(again.kind, ErrorKind::AlreadyExists, "{again}");
}

// Objects resource (contentType, metadata, updated): what put stores, get and head return.
#[tokio::test]
async fn content_type_and_metadata_round_trip() {
    let Some(url) = fake_gcs() else { return };
    let storage = bucket(&url, "round-trip").await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(5);
    let options = PutObjectOptions {
        content_type: Some("application/json".into()),
        metadata: BTreeMap::from([("owner".to_owned(), "alien".to_owned())]),
    };
    let put = storage
        .put("dir/a.json", br#"{"a":1}"#.to_vec(), options)
        .await
        .expect("put");
    assert_eq!(put.size, 7);
    let got = storage
        .get("dir/a.json")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(got.body, br#"{"a":1}"#);
    assert_eq!(got.meta.key, "dir/a.json");
    assert_eq!(got.meta.size, 7);
    assert_eq!(got.meta.etag, put.etag);
    assert_eq!(got.meta.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        got.meta.metadata.get("owner").map(String::as_str),
        Some("alien")
    );
    assert!(
        got.meta.last_modified > before,
        "{}",
        got.meta.last_modified
    );
    let head = storage
        .head("dir/a.json")
        .await
        .expect("head")
        .expect("present");
    assert_eq!(head, got.meta);
}

// objects.list: prefix filter, maxResults pages and nextPageToken, lexicographic order.
#[tokio::test]
async fn list_filters_by_prefix_and_pages() {
    let Some(url) = fake_gcs() else { return };
    let storage = bucket(&url, "list").await.with_page_size(2);
    for key in ["p/3", "p/1", "q/1", "p/2"] {
        storage
            .put(key, key.as_bytes().to_vec(), PutObjectOptions::default())
            .await
            .expect("put");
    }
    let first = storage.list("p/", None).await.expect("first page");
    let keys: Vec<_> = first.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["p/1", "p/2"]);
    assert_eq!(first.objects[0].size, 3);
    let cursor = first.next_cursor.expect("a second page");
    let second = storage.list("p/", Some(cursor)).await.expect("second page");
    let keys: Vec<_> = second.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["p/3"]);
    assert_eq!(second.next_cursor, None);
    let none = storage.list("zzz/", None).await.expect("empty listing");
    assert!(none.objects.is_empty() && none.next_cursor.is_none());
}

// The trait: deleting a missing key succeeds; a missing key reads as None.
#[tokio::test]
async fn delete_and_missing_objects() {
    let Some(url) = fake_gcs() else { return };
    let storage = bucket(&url, "delete").await;
    storage
        .put("k", b"v".to_vec(), PutObjectOptions::default())
        .await
        .expect("put");
    storage.delete("k").await.expect("delete");
    assert_eq!(storage.get("k").await.expect("get"), None);
    assert_eq!(storage.head("k").await.expect("head"), None);
    storage.delete("k").await.expect("delete of a missing key");
}

// validate_storage_key: the same keys are refused as on the filesystem-backed emulator.
#[tokio::test]
async fn unsafe_keys_are_invalid_arguments() {
    let Some(url) = fake_gcs() else { return };
    let storage = bucket(&url, "unsafe").await;
    let put = storage
        .put("../x", b"v".to_vec(), PutObjectOptions::default())
        .await;
    assert_eq!(put.expect_err("put").kind, ErrorKind::InvalidArgument);
    assert_eq!(
        storage.get("../x").await.expect_err("get").kind,
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        storage.head("../x").await.expect_err("head").kind,
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        storage.delete("../x").await.expect_err("delete").kind,
        ErrorKind::InvalidArgument
    );
}

fn pubsub_emulator() -> Option<String> {
    peer(
        "ALIEN_PUBSUB_EMULATOR_URL",
        "`export ALIEN_PUBSUB_EMULATOR_URL=$(bash scripts/peers/pubsub.sh start)`",
    )
}

// JSON API notifications.insert (cloud.google.com/storage/docs/json_api/v1/notifications/insert):
// topic `//pubsub.googleapis.com/projects/{p}/topics/{t}`, payload JSON_API_V1
// (upstream-cloud-semantics.md §5.1), the change feed's two event types, the prefix when
// given. fake-gcs-server has no notificationConfigs endpoint, hence wiremock.
#[tokio::test]
async fn create_notification_posts_a_notification_config() {
    let Some(pubsub) = pubsub_emulator() else {
        return;
    };
    let server = MockServer::start().await;
    let clients = clients(Some(&pubsub), &server.uri()).await;
    let topic = unique("notif");
    let queue = clients
        .create_queue(&PubSubQueueSpec::upstream(&topic))
        .await
        .expect("queue");
    Mock::given(method("POST"))
        .and(path("/storage/v1/b/bkt/notificationConfigs"))
        .and(body_json(json!({
            "topic": format!("//pubsub.googleapis.com/projects/{PROJECT}/topics/{topic}"),
            "payload_format": "JSON_API_V1",
            "event_types": ["OBJECT_FINALIZE", "OBJECT_DELETE"],
            "object_name_prefix": "in/",
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "storage#notification",
            "id": "1",
            "topic": format!("//pubsub.googleapis.com/projects/{PROJECT}/topics/{topic}"),
            "payload_format": "JSON_API_V1",
        })))
        .expect(1)
        .mount(&server)
        .await;
    let storage = clients.bucket("bkt").expect("bucket");
    clients
        .create_notification(&storage, &queue, Some("in/"))
        .await
        .expect("create_notification");
}

// JSON API status codes page (cloud.google.com/storage/docs/json_api/v1/status-codes): the
// error body carries the HTTP code and no status name; 403 → PermissionDenied,
// 429 → Throttled. buckets.insert sends the project as a query parameter.
#[tokio::test]
async fn json_api_errors_map_by_http_status() {
    let server = MockServer::start().await;
    let denied = json!({"error": {"code": 403, "message":
        "alien@p.iam.gserviceaccount.com does not have storage.buckets.create access to the Google Cloud project.",
        "errors": [{"domain": "global", "reason": "forbidden", "message": "denied"}]}});
    Mock::given(method("POST"))
        .and(path("/storage/v1/b"))
        .and(query_param("project", PROJECT))
        .and(body_json(json!({"name": "taken"})))
        .respond_with(ResponseTemplate::new(403).set_body_json(denied))
        .mount(&server)
        .await;
    let slow_down = json!({"error": {"code": 429, "message": "The rate of change requests to the object k exceeds the rate limit.",
        "errors": [{"domain": "usageLimits", "reason": "rateLimitExceeded"}]}});
    Mock::given(method("GET"))
        .and(path("/storage/v1/b/bkt/o/k"))
        .respond_with(ResponseTemplate::new(429).set_body_json(slow_down))
        .mount(&server)
        .await;
    let clients = clients(None, &server.uri()).await;
    let err = clients.create_bucket("taken").await.expect_err("403");
    assert!(
        matches!(err.kind, ErrorKind::PermissionDenied { .. }),
        "{err:?}"
    );
    let storage = clients.bucket("bkt").expect("bucket");
    let err = storage.head("k").await.expect_err("429");
    assert_eq!(err.kind, ErrorKind::Throttled, "{err}");
}

// Measured: fake-gcs-server answers notifications.insert with 404 (no such route).
#[tokio::test]
async fn fake_gcs_has_no_notification_configs() {
    let (Some(url), Some(pubsub)) = (fake_gcs(), pubsub_emulator()) else {
        return;
    };
    let clients = clients(Some(&pubsub), &url).await;
    let storage = clients
        .create_bucket(&unique("notif"))
        .await
        .expect("bucket");
    let queue = clients
        .create_queue(&PubSubQueueSpec::upstream(&unique("notif")))
        .await
        .expect("queue");
    let err = clients
        .create_notification(&storage, &queue, None)
        .await
        .expect_err("no notificationConfigs on fake-gcs-server");
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
}

/// Non-empty pages until `want` changes arrived (or 20 s passed), presenting each page's
/// cursor to the next call; also the last cursor.
async fn collect_pages(
    storage: &GcpStorage,
    mut cursor: Option<ChangeCursor>,
    want: usize,
) -> (Vec<Vec<StorageChange>>, Option<ChangeCursor>) {
    let started = Instant::now();
    let mut pages: Vec<Vec<StorageChange>> = Vec::new();
    while pages.iter().map(Vec::len).sum::<usize>() < want
        && started.elapsed() < Duration::from_secs(20)
    {
        let page = storage
            .changes_since(cursor.clone())
            .await
            .expect("changes_since");
        if !page.changes.is_empty() {
            pages.push(page.changes);
        }
        cursor = Some(page.cursor);
    }
    (pages, cursor)
}

fn kinds_and_keys(changes: &[StorageChange]) -> HashSet<(StorageChangeKind, &str)> {
    changes.iter().map(|c| (c.event, c.key.as_str())).collect()
}

// pubsub-notifications docs + upstream-cloud-semantics.md §5.2: OBJECT_FINALIZE → created
// (size from the object resource), OBJECT_DELETE → deleted; the trait: presenting a cursor
// acknowledges the changes before it, starting over (None) sees unacknowledged ones again.
#[tokio::test(flavor = "multi_thread")]
async fn change_feed_from_fake_gcs_events() {
    let (Some(url), Some(pubsub)) = (fake_gcs(), pubsub_emulator()) else {
        return;
    };
    let start = "ALIEN_FAKE_GCS_EVENTS_TOPIC=gcs-events ALIEN_FAKE_GCS_EVENTS_PUBSUB=$ALIEN_PUBSUB_EMULATOR_URL \
        bash scripts/peers/fake-gcs.sh start (ALIEN_FAKE_GCS_URL must be that instance)";
    let Some(topic) = peer("ALIEN_FAKE_GCS_EVENTS_TOPIC", start) else {
        return;
    };
    let project =
        std::env::var("ALIEN_FAKE_GCS_EVENTS_PROJECT").unwrap_or_else(|_| PROJECT.to_owned());
    let clients = GcpClients::new(&GcpConfig::for_emulators(
        &project,
        Some(&pubsub),
        Some(&url),
    ))
    .await
    .expect("clients");
    let queue = clients
        .subscribe_topic(&topic, &unique("changes"))
        .await
        .expect("subscription on the events topic");
    let storage = clients
        .create_bucket(&unique("changes"))
        .await
        .expect("bucket")
        .with_changes(queue);
    let before = chrono::Utc::now() - chrono::Duration::seconds(5);
    storage
        .put("a.txt", b"hello".to_vec(), PutObjectOptions::default())
        .await
        .expect("put a");
    storage
        .put("b.txt", b"hi".to_vec(), PutObjectOptions::default())
        .await
        .expect("put b");
    storage
        .put("b.txt", b"hi!".to_vec(), PutObjectOptions::default())
        .await
        .expect("overwrite b");
    storage.delete("a.txt").await.expect("delete a");

    // The overwrite's OBJECT_DELETE (overwrittenByGeneration) is no deletion.
    let (pages, _) = collect_pages(&storage, None, 4).await;
    let first: Vec<StorageChange> = pages.concat();
    assert_eq!(
        kinds_and_keys(&first),
        HashSet::from([
            (StorageChangeKind::Created, "a.txt"),
            (StorageChangeKind::Created, "b.txt"),
            (StorageChangeKind::Deleted, "a.txt"),
        ]),
        "{first:?}"
    );
    // Publish order: a.txt's creation comes before its deletion.
    let position = |event, key: &str| first.iter().position(|c| c.event == event && c.key == key);
    assert!(
        position(StorageChangeKind::Created, "a.txt")
            < position(StorageChangeKind::Deleted, "a.txt"),
        "{first:?}"
    );
    assert_eq!(first.len(), 4, "{first:?}");
    let b_sizes: HashSet<_> = first
        .iter()
        .filter(|c| c.key == "b.txt")
        .map(|c| c.size)
        .collect();
    assert_eq!(b_sizes, HashSet::from([Some(2), Some(3)]));
    assert!(first.iter().all(|c| c.at > before), "{first:?}");

    // The last page's cursor was never presented: starting over delivers it again.
    let last = pages.last().expect("a page");
    let (again, cursor) = collect_pages(&storage, None, last.len()).await;
    let again = again.concat();
    assert_eq!(kinds_and_keys(&again), kinds_and_keys(last), "{again:?}");
    let cursor = cursor.expect("a cursor");
    // Presenting the cursor acknowledges it: nothing more, and the cursor stays.
    let page = storage
        .changes_since(Some(cursor.clone()))
        .await
        .expect("ack page");
    assert!(page.changes.is_empty(), "{:?}", page.changes);
    assert_eq!(page.cursor, cursor);
    let err = storage
        .changes_since(Some(ChangeCursor::new("999")))
        .await
        .expect_err("a cursor this feed did not issue");
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
}
