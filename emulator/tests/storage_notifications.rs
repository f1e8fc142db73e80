//! Storage `notifications` (alien-core 3.3.49, published-3.3.49.md §8): the typed stack model
//! and its rules, and the engine sending one StorageEvent JSON message per created object to
//! each matching rule's queue, on every platform profile, in virtual time.

use std::collections::BTreeMap;
use std::path::Path;

use alien_emulator::Platform;
use alien_emulator::engine::{Kind, Sim, SimConfig};
use alien_emulator::profile::Profile;
use alien_emulator::stack::{Resource, Stack, StackError, StorageNotification, parse_stack_json};
use alien_providers::Payload;
use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};

/// A stack with Storage `uploads` holding `notifications`, and queues `events` and `thumbs`.
fn stack_json(notifications: Value) -> Value {
    let entry =
        |config: Value| json!({"config": config, "lifecycle": "frozen", "dependencies": []});
    json!({
        "id": "s",
        "resources": {
            "events": entry(json!({"type": "queue", "id": "events"})),
            "thumbs": entry(json!({"type": "queue", "id": "thumbs"})),
            "cache": entry(json!({"type": "kv", "id": "cache"})),
            "uploads": entry(json!({"type": "storage", "id": "uploads", "notifications": notifications})),
        }
    })
}

fn parse(doc: &Value) -> Result<Stack, StackError> {
    parse_stack_json(&doc.to_string(), Path::new("stack.json"))
}

fn parse_err(notifications: Value) -> String {
    parse(&stack_json(notifications))
        .expect_err("the stack must be rejected")
        .to_string()
}

fn sim_on(platform: Platform, notifications: Value) -> Sim {
    let stack = parse(&stack_json(notifications)).unwrap();
    let profile = Profile::new(platform, NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()).unwrap();
    let start = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
    Sim::new(&stack, profile, SimConfig::new(1, start))
}

/// Every message waiting on `queue`, received through the binding and acked.
fn drain(sim: &mut Sim, queue: &str) -> Vec<Payload> {
    let mut out = Vec::new();
    loop {
        let got = sim.receive(queue, 10, None).unwrap();
        if got.is_empty() {
            return out;
        }
        for m in got {
            sim.ack(queue, &m.receipt).unwrap();
            out.push(m.payload);
        }
    }
}

/// published-3.3.49.md §8: `events` defaults to `["created"]`; defaults and absent
/// prefix/suffix are omitted again when the stack is written.
#[test]
fn notifications_parse_typed_with_defaults_and_round_trip() {
    let stack = parse(&stack_json(json!([
        {"queue": {"type": "queue", "id": "events"}, "prefix": "photos/", "suffix": ".png"},
    ])))
    .unwrap();
    let Resource::Storage(storage) = &stack.resources["uploads"].config else {
        panic!("uploads is a storage");
    };
    assert_eq!(storage.notifications.len(), 1);
    let rule: &StorageNotification = &storage.notifications[0];
    assert_eq!(rule.queue.id, "events");
    assert_eq!(rule.events, ["created"]);
    assert_eq!(rule.prefix.as_deref(), Some("photos/"));
    assert_eq!(rule.suffix.as_deref(), Some(".png"));

    let written = serde_json::to_value(&stack).unwrap();
    assert_eq!(
        written["resources"]["uploads"]["config"]["notifications"],
        json!([{"queue": {"type": "queue", "id": "events"}, "prefix": "photos/", "suffix": ".png"}])
    );
    assert_eq!(parse(&written).unwrap(), stack);
}

/// published-3.3.49.md §8: omitted when empty, so stacks without notifications are unchanged.
#[test]
fn empty_notifications_are_omitted_when_written() {
    let stack = parse(&stack_json(json!([]))).unwrap();
    let written = serde_json::to_value(&stack).unwrap();
    assert!(
        written["resources"]["uploads"]["config"]
            .get("notifications")
            .is_none(),
        "{written}"
    );
}

/// published-3.3.49.md §8: `StorageNotification` has `deny_unknown_fields`.
#[test]
fn unknown_notification_field_is_rejected() {
    insta::assert_snapshot!(parse_err(json!([
        {"queue": {"type": "queue", "id": "events"}, "filter": "x"},
    ])));
}

/// published-3.3.49.md §8: at most 10 rules on one Storage.
#[test]
fn more_than_ten_rules_are_rejected() {
    let eleven: Vec<Value> = (0..11)
        .map(|i| json!({"queue": {"type": "queue", "id": "events"}, "prefix": format!("p{i}/")}))
        .collect();
    insta::assert_snapshot!(parse_err(Value::Array(eleven.clone())));
    assert!(parse(&stack_json(Value::Array(eleven[..10].to_vec()))).is_ok());
}

/// published-3.3.49.md §8: prefix and suffix are non-empty when given.
#[test]
fn empty_prefix_or_suffix_is_rejected() {
    insta::assert_snapshot!(
        "empty_prefix",
        parse_err(json!([{"queue": {"type": "queue", "id": "events"}, "prefix": ""}]))
    );
    insta::assert_snapshot!(
        "empty_suffix",
        parse_err(json!([
            {"queue": {"type": "queue", "id": "events"}, "prefix": "a/"},
            {"queue": {"type": "queue", "id": "thumbs"}, "prefix": "b/", "suffix": ""},
        ]))
    );
}

/// published-3.3.49.md §8: prefix at most 512 bytes, suffix at most 128 bytes (bytes, not
/// characters: `é` is two).
#[test]
fn overlong_prefix_or_suffix_is_rejected() {
    let rule = |prefix: String, suffix: String| json!([{"queue": {"type": "queue", "id": "events"}, "prefix": prefix, "suffix": suffix}]);
    assert!(parse(&stack_json(rule("p".repeat(512), "s".repeat(128)))).is_ok());
    insta::assert_snapshot!(
        "prefix_513_bytes",
        parse_err(rule("p".repeat(513), ".png".into()))
    );
    insta::assert_snapshot!(
        "suffix_129_bytes",
        parse_err(rule("a/".into(), format!("{}é", "s".repeat(127))))
    );
}

/// published-3.3.49.md §8: v1 supports only `created`; the error names the bad value.
#[test]
fn events_other_than_created_are_rejected() {
    insta::assert_snapshot!(
        "deleted_event",
        parse_err(json!([
            {"queue": {"type": "queue", "id": "events"}, "events": ["created", "deleted"]},
        ]))
    );
    insta::assert_snapshot!(
        "no_events",
        parse_err(json!([{"queue": {"type": "queue", "id": "events"}, "events": []}]))
    );
}

/// published-3.3.49.md §8: the target is `{type: "queue", id}`, a Queue of the stack.
#[test]
fn queue_must_be_a_queue_of_the_stack() {
    insta::assert_snapshot!(
        "missing_queue",
        parse_err(json!([{"queue": {"type": "queue", "id": "nope"}}]))
    );
    insta::assert_snapshot!(
        "kv_as_queue",
        parse_err(json!([{"queue": {"type": "queue", "id": "cache"}}]))
    );
    insta::assert_snapshot!(
        "wrong_ref_type",
        parse_err(json!([{"queue": {"type": "kv", "id": "events"}}]))
    );
}

/// published-3.3.49.md §8: rules of one Storage must not overlap, as S3 defines it: both the
/// prefixes (one absent or a prefix of the other) and the suffixes (one absent or a suffix of
/// the other) could match one key.
#[test]
fn overlapping_rules_are_rejected() {
    let q = json!({"type": "queue", "id": "events"});
    let t = json!({"type": "queue", "id": "thumbs"});
    insta::assert_snapshot!(
        "nested_prefixes",
        parse_err(json!([
            {"queue": q, "prefix": "photos/"},
            {"queue": t, "prefix": "photos/2026/"},
        ]))
    );
    insta::assert_snapshot!(
        "absent_prefix_nested_suffixes",
        parse_err(json!([
            {"queue": q, "prefix": "a/", "suffix": ".jpg"},
            {"queue": q, "prefix": "b/"},
            {"queue": t, "suffix": ".thumb.jpg"},
        ]))
    );
    // Disjoint prefixes, or disjoint suffixes, never overlap.
    for disjoint in [
        json!([{"queue": q, "prefix": "a/"}, {"queue": t, "prefix": "b/"}]),
        json!([{"queue": q, "suffix": ".png"}, {"queue": t, "suffix": ".jpg"}]),
        json!([
            {"queue": q, "prefix": "a/", "suffix": ".png"},
            {"queue": t, "prefix": "a/b/", "suffix": ".jpg"},
        ]),
    ] {
        assert!(parse(&stack_json(disjoint.clone())).is_ok(), "{disjoint}");
    }
}

/// published-3.3.49.md §8: one StorageEvent JSON message per created object, `eventType`
/// "created", with the object's size, etag and content type, on every platform profile
/// ("a local host would enqueue one StorageEvent JSON message per created object").
#[test]
fn matching_key_sends_one_storage_event_on_every_platform() {
    for platform in Platform::EMULATED {
        let mut sim = sim_on(
            platform,
            json!([{"queue": {"type": "queue", "id": "events"}, "prefix": "photos/", "suffix": ".png"}]),
        );
        sim.advance(std::time::Duration::from_millis(1_500))
            .unwrap();
        let etag = sim
            .put_object_bytes(
                "uploads",
                "photos/cat.png",
                b"meow".to_vec(),
                "image/png",
                BTreeMap::new(),
            )
            .unwrap();
        let got = drain(&mut sim, "events");
        assert_eq!(
            got,
            [Payload::Json(json!({
                "eventType": "created",
                "bucketName": "uploads",
                "objectKey": "photos/cat.png",
                "timestamp": "2026-11-22T00:00:01.500Z",
                "size": 4,
                "etag": etag.trim_matches('"'),
                "contentType": "image/png",
            }))],
            "{platform:?}"
        );
        assert!(drain(&mut sim, "thumbs").is_empty(), "{platform:?}");
        assert_eq!(
            sim.trace()
                .count(Kind::StorageNotification, Some("uploads")),
            1,
            "{platform:?}"
        );
    }
}

/// published-3.3.49.md §8: a put with a size only and no content type sends neither
/// `contentType` nor anything beyond what the engine knows; overwrites are created again.
#[test]
fn content_type_is_omitted_when_unknown_and_overwrites_notify_again() {
    let mut sim = sim_on(
        Platform::Aws,
        json!([{"queue": {"type": "queue", "id": "events"}}]),
    );
    sim.put_object("uploads", "a.txt", 7, "").unwrap();
    sim.put_object("uploads", "a.txt", 9, "").unwrap();
    let got = drain(&mut sim, "events");
    let sizes: Vec<&Value> = got
        .iter()
        .map(|p| match p {
            Payload::Json(v) => {
                assert!(v.get("contentType").is_none(), "{v}");
                &v["size"]
            }
            Payload::Text(t) => panic!("a JSON payload, got text {t}"),
        })
        .collect();
    assert_eq!(sizes, [&json!(7), &json!(9)]);
}

/// published-3.3.49.md §8: prefix and suffix are literal matches (no wildcards).
#[test]
fn non_matching_prefix_or_suffix_sends_nothing() {
    let mut sim = sim_on(
        Platform::Aws,
        json!([{"queue": {"type": "queue", "id": "events"}, "prefix": "photos/", "suffix": ".png"}]),
    );
    for key in [
        "docs/cat.png",
        "photos/cat.jpg",
        "Photos/cat.png",
        "photos/*.png.bak",
        "x/photos/cat.png",
    ] {
        sim.put_object("uploads", key, 1, "").unwrap();
    }
    assert!(drain(&mut sim, "events").is_empty());
    assert_eq!(sim.trace().count(Kind::StorageNotification, None), 0);
}

/// Staging keys (`key#N`) are skipped where the profile ignores them, as storage events are
/// (upstream-cloud-semantics.md §5.1: Local ignores them, AWS notifies the whole bucket).
#[test]
fn staging_keys_follow_the_profile() {
    for (platform, expected) in [(Platform::Local, 0), (Platform::Aws, 1)] {
        let mut sim = sim_on(
            platform,
            json!([{"queue": {"type": "queue", "id": "events"}, "prefix": "photos/"}]),
        );
        sim.put_object("uploads", "photos/cat.png#1", 3, "")
            .unwrap();
        assert_eq!(drain(&mut sim, "events").len(), expected, "{platform:?}");
    }
}

/// published-3.3.49.md §8: each rule sends to its own queue; a key matches at most one rule.
#[test]
fn two_rules_on_two_queues_each_get_theirs() {
    let mut sim = sim_on(
        Platform::Gcp,
        json!([
            {"queue": {"type": "queue", "id": "events"}, "prefix": "docs/"},
            {"queue": {"type": "queue", "id": "thumbs"}, "suffix": ".png", "prefix": "img/"},
        ]),
    );
    sim.put_object("uploads", "docs/a.pdf", 1, "application/pdf")
        .unwrap();
    sim.put_object("uploads", "img/b.png", 2, "image/png")
        .unwrap();
    sim.put_object("uploads", "img/c.gif", 3, "image/gif")
        .unwrap();
    let keys = |payloads: Vec<Payload>| -> Vec<String> {
        payloads
            .into_iter()
            .map(|p| match p {
                Payload::Json(v) => v["objectKey"].as_str().unwrap_or_default().to_string(),
                Payload::Text(t) => panic!("a JSON payload, got text {t}"),
            })
            .collect()
    };
    assert_eq!(keys(drain(&mut sim, "events")), ["docs/a.pdf"]);
    assert_eq!(keys(drain(&mut sim, "thumbs")), ["img/b.png"]);
}

/// Worker storage triggers are a separate mechanism (upstream-stack-and-limits.md §5.5): a
/// put raises the trigger's storage event and the notification's message, and a delete
/// notifies nothing (v1 supports only `created`, published-3.3.49.md §8).
#[test]
fn worker_storage_triggers_keep_working_alongside() {
    let mut doc = stack_json(json!([{"queue": {"type": "queue", "id": "events"}}]));
    doc["resources"]["thumbnailer"] = json!({
        "config": {"type": "worker", "id": "thumbnailer", "links": [], "permissions": "execution",
            "code": {"type": "image", "image": "x:1"},
            "triggers": [{"type": "storage", "storage": {"type": "storage", "id": "uploads"},
                "events": ["created", "deleted"]}]},
        "lifecycle": "live", "dependencies": []
    });
    let stack = parse(&doc).unwrap();
    let profile = Profile::new(
        Platform::Aws,
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
    )
    .unwrap();
    let start = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
    let mut sim = Sim::new(&stack, profile, SimConfig::new(1, start));
    sim.put_object("uploads", "a.txt", 1, "text/plain").unwrap();
    sim.delete_object("uploads", "a.txt").unwrap();
    sim.advance(std::time::Duration::from_secs(60)).unwrap();
    assert_eq!(sim.trace().count(Kind::StorageEvent, Some("uploads")), 2);
    assert_eq!(
        sim.trace()
            .count(Kind::StorageNotification, Some("uploads")),
        1
    );
    assert_eq!(drain(&mut sim, "events").len(), 1);
}
