//! The GCP schedule adapter against wiremock standing in for Cloud Scheduler's REST API
//! (google-cloud-scheduler-v1 speaks HTTP+JSON; there is no Cloud Scheduler emulator).
//! Wire format: Cloud Scheduler REST reference v1 (cloud.google.com/scheduler/docs/reference/rest),
//! `projects.locations.jobs.create` (`POST /v1/{parent}/jobs`, body a `Job`) and
//! `projects.locations.jobs.delete` (`DELETE /v1/{name}`).
#![cfg(feature = "gcp")]

use alien_providers::gcp::{GcpClients, GcpConfig, GcpSchedules, ServiceTarget};
use alien_providers::{ErrorKind, ScheduleId, ScheduleProvider, ScheduleTrigger};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PARENT: &str = "projects/p/locations/l";
const SERVICE_URL: &str = "https://w1-abc-uc.a.run.app/";

async fn schedules(server: &MockServer, service_account: Option<&str>) -> GcpSchedules {
    let config = GcpConfig {
        project: "p".into(),
        location: "l".into(),
        pubsub_endpoint: None,
        storage_endpoint: None,
        scheduler_endpoint: Some(server.uri()),
        anonymous: true,
    };
    GcpClients::new(&config)
        .await
        .expect("clients")
        .schedules("stack")
        .with_target(
            "w1",
            ServiceTarget {
                url: SERVICE_URL.into(),
                service_account_email: service_account.map(str::to_owned),
            },
        )
}

fn trigger(cron: &str) -> ScheduleTrigger {
    ScheduleTrigger {
        target: "w1".into(),
        cron: cron.into(),
    }
}

/// Answers CreateJob with the job it was sent, as Cloud Scheduler does (plus `state`).
/// Only requests asking for JSON with enums as numbers (system parameter
/// `$alt=json;enum-encoding=int`, what google-cloud-scheduler-v1 sends) match.
async fn accept_creates(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(format!("/v1/{PARENT}/jobs")))
        .and(query_param("$alt", "json;enum-encoding=int"))
        .respond_with(|request: &wiremock::Request| {
            let mut job: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            job["state"] = json!("ENABLED");
            ResponseTemplate::new(200).set_body_json(job)
        })
        .mount(server)
        .await;
}

/// The JSON bodies of the requests `server` received.
async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

// upstream-cloud-semantics.md §6 (GCP column): job `{prefix}-{workerId}-cron-{index}` in
// `projects/{p}/locations/{region}`, the cron verbatim, timeZone UTC, httpTarget POST to
// the service URL with an OIDC token (worker SA, audience = URL without trailing slash).
// `httpMethod` is the enum's number: POST = 1 (REST reference, HttpMethod).
#[tokio::test]
async fn create_job_sends_upstreams_job() {
    let server = MockServer::start().await;
    accept_creates(&server).await;
    let schedules = schedules(&server, Some("w1@p.iam.gserviceaccount.com")).await;
    let first = schedules
        .register(trigger("*/5 * * * *"))
        .await
        .expect("register");
    let second = schedules
        .register(trigger("0 12 * * 1"))
        .await
        .expect("register");
    let name = format!("{PARENT}/jobs/stack-w1-cron-0");
    assert_eq!(first.id, ScheduleId::new(&name));
    assert_eq!(first.schedule_name, name);
    assert_eq!(first.expression, "*/5 * * * *");
    assert_eq!(second.id.as_str(), format!("{PARENT}/jobs/stack-w1-cron-1"));
    let sent = bodies(&server).await;
    assert_eq!(
        sent[0],
        json!({
            "name": name,
            "schedule": "*/5 * * * *",
            "timeZone": "UTC",
            "httpTarget": {
                "uri": SERVICE_URL,
                "httpMethod": 1,
                "oidcToken": {
                    "serviceAccountEmail": "w1@p.iam.gserviceaccount.com",
                    "audience": "https://w1-abc-uc.a.run.app",
                },
            },
        })
    );
    assert_eq!(sent[1]["schedule"], "0 12 * * 1");
}

// §6: no service account, no OIDC token; nothing else changes.
#[tokio::test]
async fn no_service_account_sends_no_oidc_token() {
    let server = MockServer::start().await;
    accept_creates(&server).await;
    let schedules = schedules(&server, None).await;
    schedules
        .register(trigger("0 * * * *"))
        .await
        .expect("register");
    let sent = bodies(&server).await;
    assert_eq!(
        sent[0]["httpTarget"],
        json!({"uri": SERVICE_URL, "httpMethod": 1})
    );
}

// A worker without a service URL is refused before anything is sent.
#[tokio::test]
async fn unknown_worker_is_invalid_argument() {
    let server = MockServer::start().await;
    let schedules = schedules(&server, None).await;
    let err = schedules
        .register(ScheduleTrigger {
            target: "nobody".into(),
            cron: "0 * * * *".into(),
        })
        .await
        .expect_err("no target");
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
    assert!(bodies(&server).await.is_empty());
}

/// A Google API error body (`{"error":{"code","message","status"}}`, API design guide,
/// "Errors", HTTP mapping).
fn google_error(code: u16, status: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(json!({
        "error": {"code": code, "message": message, "status": status}
    }))
}

// API design guide, "Errors": the canonical codes Cloud Scheduler answers CreateJob with.
// A failed registration gives its index back.
#[tokio::test]
async fn create_job_errors_map_to_error_kinds() {
    let cases = [
        (
            400,
            "INVALID_ARGUMENT",
            "Schedule or time zone is invalid.",
            "InvalidArgument",
        ),
        (
            404,
            "NOT_FOUND",
            "Location l is not found or access is unauthorized.",
            "NotFound",
        ),
        (
            409,
            "ALREADY_EXISTS",
            "Job projects/p/locations/l/jobs/stack-w1-cron-0 already exists.",
            "AlreadyExists",
        ),
        (
            403,
            "PERMISSION_DENIED",
            "The principal lacks IAM permission \"cloudscheduler.jobs.create\" for the resource \"projects/p/locations/l\".",
            "PermissionDenied",
        ),
        (
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for quota metric 'Job write requests'.",
            "Throttled",
        ),
    ];
    for (code, status, message, expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(format!("/v1/{PARENT}/jobs")))
            .respond_with(google_error(code, status, message))
            .mount(&server)
            .await;
        let schedules = schedules(&server, None).await;
        let err = schedules
            .register(trigger("0 * * * *"))
            .await
            .expect_err("an error");
        assert_eq!(err.kind.name(), expected, "{code}: {err}");
        if let ErrorKind::PermissionDenied { permission } = &err.kind {
            assert_eq!(permission, "cloudscheduler.jobs.create");
        }
        server.reset().await;
        accept_creates(&server).await;
        let registration = schedules
            .register(trigger("0 * * * *"))
            .await
            .expect("retry");
        assert!(registration.id.as_str().ends_with("-cron-0"), "{code}");
    }
}

// projects.locations.jobs.delete: DELETE on the job's name; a missing job is NOT_FOUND.
#[tokio::test]
async fn remove_deletes_the_job_and_a_missing_one_is_not_found() {
    let server = MockServer::start().await;
    let name = format!("{PARENT}/jobs/stack-w1-cron-0");
    Mock::given(method("DELETE"))
        .and(path(format!("/v1/{name}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("/v1/{PARENT}/jobs/gone")))
        .respond_with(google_error(404, "NOT_FOUND", "Job not found."))
        .mount(&server)
        .await;
    let schedules = schedules(&server, None).await;
    schedules
        .remove(&ScheduleId::new(&name))
        .await
        .expect("remove");
    let err = schedules
        .remove(&ScheduleId::new(format!("{PARENT}/jobs/gone")))
        .await
        .expect_err("missing job");
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
}
