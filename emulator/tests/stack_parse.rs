//! `parse_stack_json`: the upstream model (reference upstream-stack-and-limits.md §1), the
//! npm 1.4.0 extension `ingress` (real-clients.md §1), error messages and round-trips.

use std::path::{Path, PathBuf};

use alien_emulator::Platform;
use alien_emulator::stack::{
    Code, Ingress, Lifecycle, Resource, ResourceRef, Stack, StackError, WorkerTrigger,
    parse_stack_json,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/stacks")
        .join(name)
}

fn parse_value(value: &Value) -> Result<Stack, StackError> {
    parse_stack_json(&value.to_string(), Path::new("stack.json"))
}

fn parse_err(value: &Value) -> StackError {
    parse_value(value).expect_err("the stack must be rejected")
}

fn r(resource_type: &str, id: &str) -> ResourceRef {
    ResourceRef {
        resource_type: resource_type.into(),
        id: id.into(),
    }
}

/// A stack holding one worker config; `edit` changes the config before parsing.
fn worker_stack(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut config = json!({
        "type": "worker",
        "id": "processor",
        "code": { "type": "image", "image": "img:1" },
        "permissions": "execution",
        "links": [],
        "triggers": []
    });
    edit(config.as_object_mut().unwrap());
    json!({
        "id": "s",
        "resources": {
            "processor": { "config": config, "lifecycle": "live", "dependencies": [] }
        }
    })
}

/// §1.12: the reference example parses with its values and upstream's defaults.
#[test]
fn reference_example_1_12_parses_with_expected_values() {
    let path = fixture("reference-1-12/stack.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let stack = parse_stack_json(&text, &path).unwrap();

    assert_eq!(stack.id, "demo-stack");
    assert_eq!(
        stack.supported_platforms,
        Some(vec![
            Platform::Aws,
            Platform::Gcp,
            Platform::Azure,
            Platform::Local
        ])
    );
    assert!(!stack.supports_platform(Platform::Kubernetes));
    let ids: Vec<&str> = stack.resources.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        ["jobs", "uploads", "cache", "processor", "agent"],
        "document order kept"
    );
    assert_eq!(stack.resources["jobs"].lifecycle, Lifecycle::Frozen);
    assert_eq!(stack.resources["cache"].lifecycle, Lifecycle::Live);
    assert!(matches!(stack.resources["cache"].config, Resource::Kv(_)));

    let Resource::Storage(uploads) = &stack.resources["uploads"].config else {
        panic!("uploads must be storage");
    };
    assert_eq!(uploads.lifecycle_rules.len(), 1);
    assert_eq!(uploads.lifecycle_rules[0].days, 30);
    assert_eq!(uploads.lifecycle_rules[0].prefix.as_deref(), Some("tmp/"));

    let (id, worker) = stack.workers().next().unwrap();
    assert_eq!(id, "processor");
    assert_eq!(worker.memory_mb, 1024);
    assert_eq!(worker.timeout_seconds, 120);
    assert_eq!(worker.concurrency_limit, Some(20));
    assert!(worker.commands_enabled);
    assert_eq!(worker.environment["LOG_LEVEL"], "info");
    assert!(worker.is_public(), "publicEndpoints [api] makes it public");
    assert_eq!(worker.ingress, None);
    assert_eq!(worker.readiness_probe.as_ref().unwrap().path, "/healthz");
    assert_eq!(
        worker.code,
        Code::Image {
            image: "registry.example.com/processor:1.0.0".into()
        }
    );
    assert_eq!(
        worker.triggers,
        vec![
            WorkerTrigger::Queue {
                queue: r("queue", "jobs"),
                batch: None
            },
            WorkerTrigger::Storage {
                storage: r("storage", "uploads"),
                events: vec!["created".into(), "deleted".into()]
            },
            WorkerTrigger::Schedule {
                cron: "30 2 * * *".into()
            },
        ]
    );
    assert_eq!(
        stack.resources["processor"].config.references(),
        vec![
            &r("queue", "jobs"),
            &r("storage", "uploads"),
            &r("kv", "cache"),
            &r("queue", "jobs"),
            &r("storage", "uploads"),
        ]
    );

    let (_, agent) = stack.daemons().next().unwrap();
    assert_eq!(agent.cpu.desired, "0.25");
    assert_eq!(agent.memory.desired, "256Mi");
    assert_eq!(agent.stop_grace_period_seconds, Some(20));

    let permissions = stack.permissions.as_ref().unwrap();
    assert_eq!(permissions.profiles["execution"]["*"].len(), 4);
    assert_eq!(permissions.management, json!("auto"));
}

/// §1.6: omitted worker fields get upstream's serde defaults (512 MB, 180 s, …).
#[test]
fn worker_defaults_are_upstreams() {
    let stack = parse_value(&worker_stack(|_| {})).unwrap();
    let (_, worker) = stack.workers().next().unwrap();
    assert_eq!(worker.memory_mb, 512);
    assert_eq!(worker.timeout_seconds, 180);
    assert!(!worker.commands_enabled);
    assert_eq!(worker.concurrency_limit, None);
    assert!(!worker.is_public());
    assert!(stack.permissions.is_none());
    assert!(stack.supported_platforms.is_none());
    assert!(
        stack.supports_platform(Platform::Azure),
        "None = every platform (§1.1)"
    );
}

/// real-clients.md §1: npm 1.4.0 writes `ingress`; alien-core 3.3.49 rejects it, we accept it.
#[test]
fn npm_ingress_public_and_private_are_accepted() {
    let public = parse_value(&worker_stack(|c| {
        c.insert("ingress".into(), json!("public"));
    }))
    .unwrap();
    let (_, worker) = public.workers().next().unwrap();
    assert_eq!(worker.ingress, Some(Ingress::Public));
    assert!(worker.is_public());

    let private = parse_value(&worker_stack(|c| {
        c.insert("ingress".into(), json!("private"));
    }))
    .unwrap();
    assert!(!private.workers().next().unwrap().1.is_public());
}

/// §1.6: `deny_unknown_fields` on Worker; the error names file, resource, type and field.
#[test]
fn unknown_field_in_a_config_names_resource_and_field() {
    let err = parse_err(&worker_stack(|c| {
        c.insert("ingres".into(), json!("public"));
    }));
    let StackError::InvalidResource {
        resource,
        resource_type,
        path,
        ..
    } = &err
    else {
        panic!("unexpected error {err:?}");
    };
    assert_eq!(resource, "processor");
    assert_eq!(resource_type.as_deref(), Some("worker"));
    assert_eq!(path, "config.ingres");
    let text = err.to_string();
    assert!(
        text.starts_with("stack.json: resource 'processor' (worker): unknown field `ingres`, expected one of `id`"),
        "{text}"
    );
}

/// The path reaches into nested values: the second link lacks `type`.
#[test]
fn nested_error_path_points_into_the_config() {
    let err = parse_err(&worker_stack(|c| {
        c.insert(
            "links".into(),
            json!([{ "type": "queue", "id": "a" }, { "id": "b" }]),
        );
    }));
    let text = err.to_string();
    assert!(text.contains("missing field `type`"), "{text}");
    assert!(text.ends_with("(at config.links[1])"), "{text}");
}

/// §1.6: `links` has no serde default, so a worker without it is rejected.
#[test]
fn missing_links_on_a_worker_is_an_error() {
    let err = parse_err(&worker_stack(|c| {
        c.remove("links");
    }));
    assert!(matches!(err, StackError::InvalidResource { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("stack.json: resource 'processor' (worker): missing field `links`"),
        "{text}"
    );
}

/// §1.6: timeoutSeconds outside 1..=3600 fails with upstream's text and code.
#[test]
fn worker_timeout_0_and_3601_are_rejected_with_upstream_text() {
    for timeout in [0, 3601] {
        let err = parse_err(&worker_stack(|c| {
            c.insert("timeoutSeconds".into(), json!(timeout));
        }));
        assert_eq!(err.code(), Some("WORKER_TIMEOUT_INVALID"));
        assert_eq!(
            err.to_string(),
            format!(
                "stack.json: resource 'processor' (worker): Worker timeoutSeconds must be between 1 and 3600 seconds, got {timeout}"
            )
        );
    }
}

proptest! {
    /// §1.6: exactly 1..=3600 is accepted.
    #[test]
    fn worker_timeout_accepted_iff_in_range(timeout in 0u32..8000) {
        let result = parse_value(&worker_stack(|c| {
            c.insert("timeoutSeconds".into(), json!(timeout));
        }));
        prop_assert_eq!(result.is_ok(), (1..=3600).contains(&timeout));
    }
}

/// A syntax error reports file, line and column (1-based, from serde_json).
#[test]
fn malformed_json_reports_line_and_column() {
    let text = "{\n  \"id\": \"s\",\n  \"resources\": {,}\n}\n";
    let err = parse_stack_json(text, Path::new("dir/stack.json")).unwrap_err();
    let StackError::Syntax { line, column, .. } = &err else {
        panic!("unexpected error {err:?}");
    };
    assert_eq!((*line, *column), (3, 17));
    assert_eq!(err.to_string(), "dir/stack.json:3:17: key must be a string");
}

/// §1.1: `Stack` is not deny_unknown_fields; we keep unknown keys and write them back.
#[test]
fn unknown_top_level_fields_are_preserved_and_round_trip() {
    let mut doc = worker_stack(|_| {});
    doc["dynamicContainerSettings"] = json!({ "enabled": true });
    doc["x-note"] = json!("kept");
    let stack = parse_value(&doc).unwrap();
    assert_eq!(
        stack.extra["dynamicContainerSettings"],
        json!({ "enabled": true })
    );
    assert_eq!(stack.extra["x-note"], json!("kept"));

    let written = serde_json::to_value(&stack).unwrap();
    assert_eq!(written["x-note"], json!("kept"));
    assert_eq!(parse_value(&written).unwrap(), stack);
}

/// §1.3: types outside the emulated five are kept whole as `Other`, not rejected.
#[test]
fn unknown_resource_type_is_kept_as_other() {
    let doc = json!({
        "id": "s",
        "resources": {
            "db": {
                "config": { "type": "postgres", "id": "db", "version": "16", "anything": [1] },
                "lifecycle": "frozen",
                "dependencies": []
            }
        }
    });
    let stack = parse_value(&doc).unwrap();
    let config = &stack.resources["db"].config;
    let Resource::Other(other) = config else {
        panic!("expected Other, got {config:?}");
    };
    assert_eq!(other.resource_type, "postgres");
    assert_eq!(other.id, "db");
    assert_eq!(other.raw, doc["resources"]["db"]["config"]);
    assert!(!config.is_emulated());
    assert_eq!(
        serde_json::to_value(&stack).unwrap()["resources"],
        doc["resources"]
    );
}

#[test]
fn missing_type_is_a_clear_error() {
    let doc = json!({
        "id": "s",
        "resources": { "q": { "config": { "id": "q" }, "lifecycle": "frozen", "dependencies": [] } }
    });
    assert_eq!(
        parse_err(&doc).to_string(),
        "stack.json: resource 'q': missing field `type` (the resource type, e.g. \"worker\" or \"queue\") (at config)"
    );
}

/// §1.2: `lifecycle` and `dependencies` are required; the lifecycle must be frozen or live.
#[test]
fn entry_fields_are_checked() {
    let no_deps = json!({
        "id": "s",
        "resources": { "q": { "config": { "type": "queue", "id": "q" }, "lifecycle": "frozen" } }
    });
    assert_eq!(
        parse_err(&no_deps).to_string(),
        "stack.json: resource 'q' (queue): missing field `dependencies`"
    );
    let bad_lifecycle = json!({
        "id": "s",
        "resources": {
            "q": { "config": { "type": "queue", "id": "q" }, "lifecycle": "frozn", "dependencies": [] }
        }
    });
    let text = parse_err(&bad_lifecycle).to_string();
    assert!(text.contains("unknown variant `frozn`"), "{text}");
    assert!(text.ends_with("(at lifecycle)"), "{text}");
}

/// §1.1: `id` and `resources` are required; `platforms` is accepted for `supportedPlatforms`.
#[test]
fn top_level_requirements_and_platforms_alias() {
    assert_eq!(
        parse_err(&json!({ "resources": {} })).to_string(),
        "stack.json: missing field `id`"
    );
    assert_eq!(
        parse_err(&json!({ "id": "s" })).to_string(),
        "stack.json: missing field `resources`"
    );
    assert_eq!(
        parse_err(&json!([])).to_string(),
        "stack.json: a stack must be a JSON object, found an array"
    );
    let aliased =
        parse_value(&json!({ "id": "s", "resources": {}, "platforms": ["aws"] })).unwrap();
    assert_eq!(aliased.supported_platforms, Some(vec![Platform::Aws]));
    let both =
        json!({ "id": "s", "resources": {}, "platforms": ["aws"], "supportedPlatforms": ["gcp"] });
    assert!(
        parse_err(&both)
            .to_string()
            .contains("both `supportedPlatforms` and its alias")
    );
    let text = parse_err(&json!({ "id": "s", "resources": {}, "supportedPlatforms": ["mars"] }))
        .to_string();
    assert!(text.contains("unknown variant `mars`"), "{text}");
    assert!(text.ends_with("(at supportedPlatforms[0])"), "{text}");
}

/// Every fixture stack survives parse → serialize → parse unchanged.
#[test]
fn fixtures_round_trip() {
    for name in [
        "reference-1-12",
        "queue-worker",
        "storage-events",
        "scheduled-daemon",
        "vault-kept",
        "realclients-demo",
    ] {
        let path = fixture(name).join("stack.json");
        let stack = parse_stack_json(&std::fs::read_to_string(&path).unwrap(), &path).unwrap();
        let written = serde_json::to_string_pretty(&stack).unwrap();
        let again = parse_stack_json(&written, Path::new("written.json")).unwrap();
        assert_eq!(again, stack, "{name} changed in a round-trip");
    }
}
