//! One test per preflight rule, each naming its source.

use std::path::Path;

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::*;
use crate::Platform;
use crate::stack::parse_stack_json;

fn profile(platform: Platform) -> Profile {
    Profile::new(platform, NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()).unwrap()
}

fn worker(id: &str, extra: Value) -> Value {
    let mut config = json!({
        "type": "worker", "id": id, "links": [], "triggers": [],
        "permissions": "execution", "code": {"type": "image", "image": "x:1"}
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    json!({"config": config, "lifecycle": "live", "dependencies": []})
}

fn stack(resources: Value) -> Stack {
    let doc = json!({
        "id": "t", "resources": resources,
        "permissions": {"profiles": {"execution": {"*": ["queue/data-read"]}}}
    });
    parse_stack_json(&doc.to_string(), Path::new("t.json")).unwrap()
}

fn check(resources: Value, platform: Platform) -> Report {
    run(&stack(resources), &profile(platform))
}

fn codes(report: &Report, severity: Severity) -> Vec<&'static str> {
    report
        .diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .map(|d| d.code)
        .collect()
}

fn messages(report: &Report) -> Vec<String> {
    report
        .diagnostics
        .iter()
        .map(|d| d.message.clone())
        .collect()
}

/// Platform cap: seed 001 Limits (Lambda: 15 min), Cloud Run 60 min.
#[test]
fn worker_timeout_above_the_lambda_cap_fails_only_on_aws() {
    let resources = json!({"slow": worker("slow", json!({"timeoutSeconds": 3600}))});
    let aws = check(resources.clone(), Platform::Aws);
    assert_eq!(
        codes(&aws, Severity::Error),
        vec!["WORKER_TIMEOUT_EXCEEDS_PLATFORM"]
    );
    assert!(
        aws.diagnostics[0]
            .message
            .contains("maximum execution time of 900 s")
    );
    assert!(check(resources.clone(), Platform::Gcp).ok);
    assert!(check(resources, Platform::Local).ok);
}

/// upstream-stack-and-limits.md §3.3.1: AWS 128–10240, GCP 128–32768 with a 512 floor,
/// Azure steps rounded up with a warning and >4096 an error.
#[test]
fn worker_memory_rules_per_platform() {
    let low = json!({"w": worker("w", json!({"memoryMb": 256}))});
    assert!(check(low.clone(), Platform::Aws).ok);
    assert_eq!(
        messages(&check(low.clone(), Platform::Gcp)),
        vec!["Worker 'w': memory_mb 256 is below the GCP Cloud Run gen2 minimum of 512 MiB"]
    );
    let azure = check(low, Platform::Azure);
    assert!(azure.ok);
    assert_eq!(
        messages(&azure),
        vec![
            "Worker 'w': memory_mb 256 is not a valid Azure Container Apps value. It will be automatically adjusted to 512 MB at deploy time"
        ]
    );
    let high = json!({"w": worker("w", json!({"memoryMb": 12000}))});
    assert_eq!(
        messages(&check(high.clone(), Platform::Aws)),
        vec!["Worker 'w': memory_mb 12000 is out of range for AWS Lambda (128–10240 MB)"]
    );
    assert_eq!(
        messages(&check(high.clone(), Platform::Azure)),
        vec!["Worker 'w': memory_mb 12000 exceeds the Azure Container Apps maximum of 4096 MB"]
    );
    assert!(check(high, Platform::Local).ok);
}

/// §3.3.3 ResourceIdPatternCheck, rule order and reason texts.
#[test]
fn resource_id_pattern_reasons() {
    assert_eq!(
        id_pattern_violation("Api"),
        Some("must start with a lowercase letter or digit")
    );
    assert_eq!(
        id_pattern_violation("api-"),
        Some("must end with a lowercase letter or digit")
    );
    assert_eq!(
        id_pattern_violation("my_api"),
        Some("must only contain lowercase letters, digits, and hyphens")
    );
    assert_eq!(
        id_pattern_violation("my--api"),
        Some("must not contain consecutive hyphens")
    );
    assert_eq!(id_pattern_violation("api-2"), None);
    let report = check(
        json!({"My_Api": worker("My_Api", json!({}))}),
        Platform::Local,
    );
    assert_eq!(
        messages(&report),
        vec!["Resource 'My_Api': must start with a lowercase letter or digit"]
    );
}

/// §3.3.4: a worker id of 24 characters exceeds Azure's 23 but not AWS's 55.
#[test]
fn worker_id_length_limit_per_platform() {
    let id = "abcdefghijklmnopqrstuvwx";
    let resources = json!({id: worker(id, json!({}))});
    assert!(check(resources.clone(), Platform::Aws).ok);
    let azure = check(resources, Platform::Azure);
    assert_eq!(
        messages(&azure),
        vec![format!(
            "Resource '{id}' (type: worker) has ID length 24 which exceeds the maximum of 23 for Azure Container App name (cloud limit: 32, naming pattern: {{prefix}}-{{id}})."
        )]
    );
}

/// §3.2 SingleQueueTriggerCheck.
#[test]
fn at_most_one_queue_trigger() {
    let q = |id: &str| json!({"config": {"type": "queue", "id": id}, "lifecycle": "frozen", "dependencies": []});
    let trigger = |id: &str| json!({"type": "queue", "queue": {"type": "queue", "id": id}});
    let resources = json!({
        "a": q("a"), "b": q("b"),
        "w": worker("w", json!({"triggers": [trigger("a"), trigger("b")]}))
    });
    let report = check(resources, Platform::Aws);
    assert_eq!(
        messages(&report),
        vec!["Worker 'w' has 2 queue triggers, but only one queue trigger per worker is supported"]
    );
}

/// Seed 004: daemons fail preflight on aws/gcp/azure; seed 003: source code refused.
#[test]
fn daemons_only_on_local_and_kubernetes() {
    let daemon = |code: Value| {
        json!({"d": {"config": {"type": "daemon", "id": "d", "links": [], "permissions": "execution", "code": code},
                "lifecycle": "live", "dependencies": []}})
    };
    let image = daemon(json!({"type": "image", "image": "x:1"}));
    for platform in [Platform::Aws, Platform::Gcp, Platform::Azure] {
        assert_eq!(
            codes(&check(image.clone(), platform), Severity::Error),
            vec!["DAEMON_PLATFORM_UNSUPPORTED"]
        );
    }
    assert!(check(image.clone(), Platform::Local).ok);
    assert!(check(image, Platform::Kubernetes).ok);
    let source = daemon(
        json!({"type": "source", "src": "./d", "toolchain": {"type": "rust", "binaryName": "d"}}),
    );
    assert_eq!(
        codes(&check(source, Platform::Local), Severity::Error),
        vec!["DAEMON_SOURCE_UNSUPPORTED"]
    );
}

/// §5.6: Azure accepts only created/deleted/tierChanged; Local never fires other events.
#[test]
fn storage_trigger_events_per_platform() {
    let resources = json!({
        "s": {"config": {"type": "storage", "id": "s"}, "lifecycle": "frozen", "dependencies": []},
        "w": worker("w", json!({"triggers": [{"type": "storage", "storage": {"type": "storage", "id": "s"}, "events": ["created", "archived"]}]}))
    });
    let azure = check(resources.clone(), Platform::Azure);
    let errors: Vec<&str> = azure
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(
        errors,
        vec![
            "Azure storage trigger event 'archived' is not supported; expected one of: created, deleted, tierChanged"
        ]
    );
    let local = check(resources.clone(), Platform::Local);
    assert!(local.ok);
    assert!(codes(&local, Severity::Warning).contains(&"STORAGE_EVENT_NEVER_FIRES"));
    assert!(
        check(resources, Platform::Aws).diagnostics.is_empty(),
        "AWS wires any event name"
    );
}

/// seed 001: queue triggers are not supported on Kubernetes; §2.3: other triggers not wired.
#[test]
fn kubernetes_triggers() {
    let resources = json!({
        "q": {"config": {"type": "queue", "id": "q"}, "lifecycle": "frozen", "dependencies": []},
        "w": worker("w", json!({"triggers": [
            {"type": "queue", "queue": {"type": "queue", "id": "q"}},
            {"type": "schedule", "cron": "30 2 * * *"}
        ]}))
    });
    let report = check(resources, Platform::Kubernetes);
    assert_eq!(
        codes(&report, Severity::Error),
        vec!["TRIGGER_NOT_SUPPORTED"]
    );
    assert!(codes(&report, Severity::Warning).contains(&"TRIGGER_NOT_WIRED"));
    assert!(codes(&report, Severity::Warning).contains(&"EXTERNAL_BINDING_REQUIRED"));
}

/// §3.2 ResourceReferencesExistCheck and ValidResourceDependenciesCheck texts.
#[test]
fn references_and_cycles() {
    let resources = json!({
        "w": worker("w", json!({"links": [{"type": "kv", "id": "missing"}]})),
        "a": {"config": {"type": "queue", "id": "a"}, "lifecycle": "frozen", "dependencies": [{"type": "queue", "id": "b"}]},
        "b": {"config": {"type": "queue", "id": "b"}, "lifecycle": "frozen", "dependencies": [{"type": "queue", "id": "a"}]}
    });
    let report = check(resources, Platform::Local);
    let all = messages(&report);
    assert!(
        all.contains(&"Circular dependency detected: a -> b -> a".to_string()),
        "{all:?}"
    );
    assert!(all.contains(
        &"Resource 'w' references 'missing' which does not exist in the stack".to_string()
    ));
}

/// §3.2 PublicWorkerLifecycleCheck text.
#[test]
fn workers_must_be_live() {
    let mut entry = worker("w", json!({}));
    entry["lifecycle"] = json!("frozen");
    let report = check(json!({"w": entry}), Platform::Aws);
    assert_eq!(
        messages(&report),
        vec![
            "Worker 'w' has lifecycle Frozen, but workers must be Live. Workers are Alien-owned resources and require provision permissions."
        ]
    );
}

/// §3.2 PermissionProfilesExistCheck text.
#[test]
fn permission_profile_must_exist() {
    let report = check(
        json!({"w": worker("w", json!({"permissions": "admin"}))}),
        Platform::Gcp,
    );
    assert_eq!(
        messages(&report),
        vec![
            "Worker 'w' references permission profile 'admin' which does not exist. Available profiles: 'execution'"
        ]
    );
}

/// Unknown resource types are kept and reported as not emulated, never an error.
#[test]
fn other_resource_types_are_reported_not_emulated() {
    let resources = json!({"secrets": {"config": {"type": "vault", "id": "secrets"}, "lifecycle": "frozen", "dependencies": []}});
    let report = check(resources, Platform::Aws);
    assert!(report.ok);
    assert_eq!(codes(&report, Severity::Warning), vec!["NOT_EMULATED"]);
    assert!(!report.resources[0].emulated);
}

/// §4.2 (c): `*/1 * * * *` becomes `rate(1 minutes)`, which EventBridge rejects.
#[test]
fn cron_rejected_by_eventbridge_is_an_aws_error() {
    let resources = json!({"w": worker("w", json!({"triggers": [{"type": "schedule", "cron": "*/1 * * * *"}]}))});
    let aws = check(resources.clone(), Platform::Aws);
    assert_eq!(
        codes(&aws, Severity::Error),
        vec!["RESOURCE_CONFIG_INVALID"]
    );
    let gcp = check(resources, Platform::Gcp);
    assert!(gcp.ok, "{:?}", gcp.diagnostics);
    assert!(
        !codes(&gcp, Severity::Warning).is_empty(),
        "the portability warning shows on every platform"
    );
}

/// §4.3: numeric weekdays fire on different days across platforms.
#[test]
fn numeric_weekday_is_a_portability_warning() {
    let resources = json!({"w": worker("w", json!({"triggers": [{"type": "schedule", "cron": "0 18 * * 5"}]}))});
    for platform in Platform::EMULATED {
        let report = check(resources.clone(), platform);
        if platform == Platform::Kubernetes {
            continue;
        }
        assert!(
            report
                .diagnostics
                .iter()
                .any(|d| d.check == "CronPortabilityCheck"),
            "{platform}: {:?}",
            report.diagnostics
        );
    }
}

/// supportedPlatforms excludes the platform.
#[test]
fn stack_platform_list_is_respected() {
    let doc = json!({"id": "t", "supportedPlatforms": ["local"], "resources": {}});
    let s = parse_stack_json(&doc.to_string(), Path::new("t.json")).unwrap();
    let report = run(&s, &profile(Platform::Aws));
    assert_eq!(
        codes(&report, Severity::Error),
        vec!["PLATFORM_NOT_SUPPORTED"]
    );
    assert!(run(&s, &profile(Platform::Local)).ok);
}

/// §1.6 WorkerPublicEndpoint validation texts.
#[test]
fn public_endpoint_rules() {
    let resources = json!({"w": worker("w", json!({"publicEndpoints": [
        {"name": "Api"}, {"name": "web", "hostLabel": "@", "wildcardSubdomains": true}, {"name": "web"}
    ]}))});
    let all = messages(&check(resources, Platform::Aws));
    assert!(
        all.iter()
            .any(|m| m.contains("public endpoint name must be a single lowercase DNS label")),
        "{all:?}"
    );
    assert!(all.contains(
        &"Worker 'w': an apex public endpoint cannot also route wildcard subdomains".to_string()
    ));
    assert!(all.contains(&"Worker 'w': duplicate public endpoint name 'web'".to_string()));
}

/// upstream-cloud-semantics.md §4.3: a queue-triggered worker's timeout becomes the Pub/Sub
/// ack deadline, which must be 10..=600 s.
#[test]
fn pubsub_ack_deadline_range() {
    let resources = json!({
        "q": {"config": {"type": "queue", "id": "q"}, "lifecycle": "frozen", "dependencies": []},
        "w": worker("w", json!({"timeoutSeconds": 900, "triggers": [{"type": "queue", "queue": {"type": "queue", "id": "q"}}]}))
    });
    assert_eq!(
        codes(&check(resources.clone(), Platform::Gcp), Severity::Error),
        vec!["RESOURCE_CONFIG_INVALID"]
    );
    assert!(check(resources, Platform::Aws).ok);
}
