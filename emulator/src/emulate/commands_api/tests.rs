//! The commands API over a real loopback listener, merged with the control API as
//! `alien emulate` mounts it. Time moves only through the engine (`Sim::advance`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::*;
use crate::emulate::control::{self, ControlState};
use crate::engine::SharedSim;
use crate::engine::commands::tests::{commands_sim, commands_stack};
use crate::engine::{CommandState, HandlerResult, shared};

const TOKEN: &str = "secret-token";
const DEPLOYMENT: &str = "dep-1";

struct Server {
    url: String,
    sim: SharedSim,
    wakes: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

struct Reply {
    status: u16,
    json: Value,
    headers: reqwest::header::HeaderMap,
}

/// A command-enabled daemon and worker, both run by real processes, and a daemon without
/// commands; the engine never moves unless a test advances it.
async fn serve() -> Server {
    let stack = commands_stack();
    let sim = shared(commands_sim(&stack));
    let dir = tempfile::tempdir().unwrap();
    let wakes = Arc::new(AtomicUsize::new(0));
    let counter = wakes.clone();
    let config = CommandsApiConfig {
        deployment_id: DEPLOYMENT.into(),
        token: TOKEN.into(),
        payload_dir: dir.path().join("payloads"),
        wake: Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }),
    };
    let app =
        router(sim.clone(), config).merge(control::router(ControlState::new(sim.clone(), &stack)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server {
        url,
        sim,
        wakes,
        _dir: dir,
        http: reqwest::Client::new(),
    }
}

fn inline(value: &Value) -> Value {
    json!({"mode": "inline", "inlineBase64": base64::encode(value.to_string().as_bytes())})
}

fn decoded(body: &Value) -> Vec<u8> {
    base64::decode(body["inlineBase64"].as_str().unwrap()).unwrap()
}

impl Server {
    fn now(&self) -> DateTime<Utc> {
        self.sim.lock().unwrap().now()
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            json,
            headers,
        }
    }

    async fn post(&self, path: &str, body: Value, token: Option<&str>) -> Reply {
        let mut request = self.http.post(format!("{}{path}", self.url)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.call(request).await
    }

    async fn put(&self, path: &str, body: Value, token: Option<&str>) -> Reply {
        let mut request = self.http.put(format!("{}{path}", self.url)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.call(request).await
    }

    async fn get(&self, path: &str) -> Reply {
        self.call(self.http.get(format!("{}{path}", self.url)))
            .await
    }

    async fn create(&self, mut body: Value) -> Reply {
        let defaults = json!({"deploymentId": DEPLOYMENT, "command": "sync",
            "targetResourceId": "agent", "params": inline(&json!({"n": 1}))});
        for (k, v) in defaults.as_object().unwrap() {
            if body.get(k).is_none() {
                body[k] = v.clone();
            }
        }
        self.post("/commands", body, None).await
    }

    async fn create_id(&self, body: Value) -> String {
        let reply = self.create(body).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        reply.json["commandId"].as_str().unwrap().to_string()
    }

    async fn lease(&self, extra: Value) -> Reply {
        let mut body = json!({"deploymentId": DEPLOYMENT,
            "target": {"resourceId": "agent", "resourceType": "daemon"}});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.post("/commands/leases", body, Some(TOKEN)).await
    }

    /// Leases exactly one command; returns its `LeaseInfo`.
    async fn lease_one(&self) -> Value {
        let reply = self.lease(json!({})).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        let leases = reply.json["leases"].as_array().unwrap();
        assert_eq!(leases.len(), 1, "{}", reply.json);
        leases[0].clone()
    }

    /// PUTs a response to the lease's `submitResponseUrl` as upstream receivers do: the
    /// root-relative URL resolved against this origin, no `Authorization` header (§5.2, §5.4).
    async fn respond(&self, lease: &Value, response: Value) -> Reply {
        let url = lease["envelope"]["responseHandling"]["submitResponseUrl"]
            .as_str()
            .unwrap();
        assert!(url.starts_with('/'), "root-relative: {url}");
        self.put(url, response, None).await
    }
}

/// §5.1–§5.2, published §10: create → lease (bearer) → response through the envelope's
/// submitResponseUrl → status SUCCEEDED with the response; every change wakes the driver.
#[tokio::test]
async fn create_lease_respond_and_read_the_status() {
    let server = serve().await;
    let created = server
        .create(json!({"params": inline(&json!({"n": 1}))}))
        .await;
    assert_eq!(created.status, 200);
    let id = created.json["commandId"].as_str().unwrap().to_string();
    assert_eq!(
        created.json,
        json!({"commandId": id, "created": true, "state": "PENDING",
               "inlineAllowedUpTo": 150000, "next": "poll"})
    );
    let lease = server.lease_one().await;
    let expires = server.now() + chrono::TimeDelta::seconds(60);
    assert_eq!(lease["commandId"], json!(id));
    assert_eq!(lease["attempt"], json!(1));
    assert_eq!(
        lease["leaseExpiresAt"],
        json!(expires),
        "default leaseSeconds 60"
    );
    let envelope = &lease["envelope"];
    assert_eq!(envelope["protocol"], "arc.v1");
    assert_eq!(envelope["deploymentId"], DEPLOYMENT);
    assert_eq!(
        envelope["target"],
        json!({"resourceId": "agent", "resourceType": "daemon"})
    );
    assert_eq!(
        (
            &envelope["commandId"],
            &envelope["attempt"],
            &envelope["command"]
        ),
        (&json!(id), &json!(1), &json!("sync"))
    );
    assert_eq!(envelope["params"]["mode"], "inline");
    assert_eq!(decoded(&envelope["params"]), br#"{"n":1}"#);
    let handling = &envelope["responseHandling"];
    assert_eq!(handling["maxInlineBytes"], 150000);
    let url = handling["submitResponseUrl"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("/commands/{id}/response?response_token=")),
        "{url}"
    );
    assert_eq!(handling["storageUploadRequest"]["operation"], "put");
    assert_eq!(handling["storageUploadRequest"]["backend"]["type"], "local");

    let wakes_before = server.wakes.load(Ordering::SeqCst);
    let answer = json!({"status": "success", "response": inline(&json!({"ok": true}))});
    let submitted = server.respond(&lease, answer.clone()).await;
    assert_eq!(submitted.status, 200, "{}", submitted.json);
    assert_eq!(
        submitted.json,
        json!({"commandId": id, "state": "SUCCEEDED", "attempt": 1})
    );
    assert!(server.wakes.load(Ordering::SeqCst) > wakes_before);

    let status = server.get(&format!("/commands/{id}")).await;
    assert_eq!(status.status, 200);
    assert_eq!(
        status.json,
        json!({"commandId": id, "state": "SUCCEEDED", "attempt": 1,
               "target": {"resourceId": "agent", "resourceType": "daemon"},
               "response": {"status": "success", "response": inline(&json!({"ok": true}))}})
    );
    let again = server.respond(&lease, answer).await;
    assert_eq!(
        (again.status, &again.json["code"]),
        (409, &json!("CONFLICT")),
        "a terminal command refuses another response (receivers count 409 as done)"
    );
}

/// §5.5: receivers authenticate with `Authorization: Bearer <ALIEN_COMMANDS_TOKEN>`; a
/// response needs that or the response URL's token (§5.4). Create and status are the
/// operator's, on the loopback control listener, without a token.
#[tokio::test]
async fn workload_routes_need_the_token() {
    let server = serve().await;
    let id = server.create_id(json!({})).await;
    let target = json!({"deploymentId": DEPLOYMENT,
        "target": {"resourceId": "agent", "resourceType": "daemon"}});
    for token in [None, Some("wrong")] {
        let reply = server.post("/commands/leases", target.clone(), token).await;
        assert_eq!(reply.status, 401, "{token:?}");
        assert_eq!(reply.json["code"], "UNAUTHORIZED");
        assert_eq!(reply.headers["www-authenticate"], "Bearer");
    }
    let lease = server.lease_one().await;
    let lease_id = lease["leaseId"].as_str().unwrap();
    let release = server
        .post(
            &format!("/commands/leases/{lease_id}/release"),
            json!({}),
            None,
        )
        .await;
    assert_eq!(release.status, 401);
    let answer = json!({"status": "success", "response": inline(&json!(1))});
    let bare = server
        .put(&format!("/commands/{id}/response"), answer.clone(), None)
        .await;
    assert_eq!(bare.status, 401);
    let forged = server
        .put(
            &format!("/commands/{id}/response?response_token=00&expires=1"),
            answer.clone(),
            None,
        )
        .await;
    assert_eq!(forged.status, 401);
    let with_bearer = server
        .put(&format!("/commands/{id}/response"), answer, Some(TOKEN))
        .await;
    assert_eq!(with_bearer.status, 200, "{}", with_bearer.json);
    assert_eq!(server.get(&format!("/commands/{id}")).await.status, 200);
}

/// §5.6 ("deadlines must be in the future at create"), judged by the engine's clock, which
/// time travel moves; a malformed deadline names the field.
#[tokio::test]
async fn a_deadline_not_in_the_future_is_refused() {
    let server = serve().await;
    server
        .sim
        .lock()
        .unwrap()
        .advance(Duration::from_secs(3600))
        .unwrap();
    let now = server.now();
    for deadline in [now, now - chrono::TimeDelta::seconds(1)] {
        let reply = server.create(json!({"deadline": deadline})).await;
        assert_eq!(reply.status, 400, "{deadline}");
        assert_eq!(reply.json["code"], "INVALID_COMMAND");
        let message = reply.json["message"].as_str().unwrap();
        assert!(message.starts_with("deadline: "), "{message}");
    }
    let garbled = server.create(json!({"deadline": "tomorrow"})).await;
    assert_eq!(garbled.status, 400);
    assert!(
        garbled.json["message"]
            .as_str()
            .unwrap()
            .starts_with("deadline: "),
        "{}",
        garbled.json
    );
    let later = server
        .create(json!({"deadline": now + chrono::TimeDelta::seconds(1)}))
        .await;
    assert_eq!(later.status, 200, "{}", later.json);
}

/// §5.6: params over 150,000 bytes reach the receiver as a storage body whose local GET
/// request names a file holding exactly the params.
#[tokio::test]
async fn large_params_travel_as_storage() {
    let server = serve().await;
    let params = json!({"blob": "x".repeat(200_000)});
    server.create_id(json!({"params": inline(&params)})).await;
    let lease = server.lease_one().await;
    let body = &lease["envelope"]["params"];
    assert_eq!(body["mode"], "storage", "{}", body["mode"]);
    let bytes = serde_json::to_vec(&params).unwrap();
    assert_eq!(body["size"], json!(bytes.len()));
    let get = &body["storageGetRequest"];
    assert_eq!(
        (
            &get["backend"]["type"],
            &get["backend"]["operation"],
            &get["operation"]
        ),
        (&json!("local"), &json!("get"), &json!("get"))
    );
    let file = std::fs::read(get["backend"]["filePath"].as_str().unwrap()).unwrap();
    assert_eq!(file, bytes);
}

/// §5.2, published §10: the same idempotency key for the same target and command returns
/// the existing command with `created: false`.
#[tokio::test]
async fn an_idempotency_key_returns_the_existing_command() {
    let server = serve().await;
    let first = server.create(json!({"idempotencyKey": "k-1"})).await;
    let twin = server.create(json!({"idempotencyKey": "k-1"})).await;
    assert_eq!(twin.status, 200);
    assert_eq!(twin.json["commandId"], first.json["commandId"]);
    assert_eq!(
        (&first.json["created"], &twin.json["created"]),
        (&json!(true), &json!(false))
    );
    let other = server
        .create(json!({"idempotencyKey": "k-1", "command": "other"}))
        .await;
    assert_ne!(other.json["commandId"], first.json["commandId"]);
}

/// §5.1–§5.2: bad requests get 400 (404 for unknown things) with `{code, message}` naming
/// the field.
#[tokio::test]
async fn bad_requests_name_the_field() {
    let server = serve().await;
    let cases = [
        (
            json!({"targetResourceId": "ghost"}),
            404,
            "TARGET_NOT_FOUND",
            "targetResourceId: ",
        ),
        (
            json!({"targetResourceId": "quiet"}),
            400,
            "INVALID_COMMAND",
            "targetResourceId: daemon 'quiet' does not have commandsEnabled",
        ),
        (
            json!({"targetResourceId": null}),
            400,
            "INVALID_COMMAND",
            "targetResourceId: no target given",
        ),
        (
            json!({"params": {"mode": "inline", "inlineBase64": "%%%"}}),
            400,
            "INVALID_COMMAND",
            "params.inlineBase64: ",
        ),
        (
            json!({"params": {"mode": "inline", "inlineBase64": base64::encode(b"not json")}}),
            400,
            "INVALID_COMMAND",
            "params: ",
        ),
        (
            json!({"params": {"mode": "storage", "size": 10}}),
            400,
            "INVALID_COMMAND",
            "params: storage mode",
        ),
        (
            json!({"params": {"mode": "carrier-pigeon"}}),
            400,
            "INVALID_REQUEST",
            "params.mode: unknown variant",
        ),
        (
            json!({"command": ""}),
            400,
            "INVALID_COMMAND",
            "command: cannot be empty",
        ),
        (
            json!({"command": "a:b"}),
            400,
            "INVALID_COMMAND",
            "command: must not contain",
        ),
        (
            json!({"deploymentId": "elsewhere"}),
            404,
            "DEPLOYMENT_NOT_FOUND",
            "deploymentId: ",
        ),
    ];
    for (body, status, code, prefix) in cases {
        let reply = server.create(body.clone()).await;
        assert_eq!(
            (reply.status, reply.json["code"].as_str()),
            (status, Some(code)),
            "{body}: {}",
            reply.json
        );
        let message = reply.json["message"].as_str().unwrap();
        assert!(message.starts_with(prefix), "{body}: {message}");
    }
    let missing = server
        .post("/commands", json!({"deploymentId": DEPLOYMENT}), None)
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json["code"], "INVALID_REQUEST");
    assert!(
        missing.json["message"]
            .as_str()
            .unwrap()
            .contains("command")
    );

    let lease_cases = [
        (
            json!({"target": {"resourceId": "api", "resourceType": "worker"}}),
            400,
            "target.resourceType: ",
        ),
        (
            json!({"target": {"resourceId": "api", "resourceType": "daemon"}}),
            400,
            "target.resourceId: commands for worker 'api' are pushed",
        ),
        (
            json!({"target": {"resourceId": "ghost", "resourceType": "daemon"}}),
            404,
            "target.resourceId: ",
        ),
        (json!({"leaseSeconds": 0}), 400, "leaseSeconds: "),
        (json!({"maxLeases": -1}), 400, "maxLeases: "),
    ];
    for (extra, status, prefix) in lease_cases {
        let reply = server.lease(extra.clone()).await;
        assert_eq!(reply.status, status, "{extra}: {}", reply.json);
        let message = reply.json["message"].as_str().unwrap();
        assert!(message.starts_with(prefix), "{extra}: {message}");
    }
    let unknown = server.get("/commands/cmd-404").await;
    assert_eq!(
        (unknown.status, &unknown.json["code"]),
        (404, &json!("COMMAND_NOT_FOUND"))
    );
    let answer = json!({"status": "success", "response": inline(&json!(1))});
    let nobody = server
        .put("/commands/cmd-404/response", answer, Some(TOKEN))
        .await;
    assert_eq!(nobody.status, 404);
}

/// §5.2: release → PENDING with the next attempt; an ended lease is a conflict (receivers
/// count 409 as done), an unknown one 404; a lease that runs out in engine time comes back
/// with the next attempt too.
#[tokio::test]
async fn release_and_lease_expiry() {
    let server = serve().await;
    let id = server.create_id(json!({})).await;
    let lease = server.lease_one().await;
    let path = format!(
        "/commands/leases/{}/release",
        lease["leaseId"].as_str().unwrap()
    );
    let released = server
        .post(&path, json!({"leaseId": lease["leaseId"]}), Some(TOKEN))
        .await;
    assert_eq!(released.status, 200, "{}", released.json);
    assert_eq!(
        released.json,
        json!({"commandId": id, "state": "PENDING", "attempt": 2})
    );
    let again = server.post(&path, json!({}), Some(TOKEN)).await;
    assert_eq!(
        (again.status, &again.json["code"]),
        (409, &json!("CONFLICT"))
    );
    let unknown = server
        .post("/commands/leases/lease-0/release", json!({}), Some(TOKEN))
        .await;
    assert_eq!(
        (unknown.status, &unknown.json["code"]),
        (404, &json!("LEASE_NOT_FOUND"))
    );

    let short = server.lease(json!({"leaseSeconds": 5})).await;
    assert_eq!(short.json["leases"][0]["attempt"], 2);
    server
        .sim
        .lock()
        .unwrap()
        .advance(Duration::from_secs(5))
        .unwrap();
    let redelivered = server.lease_one().await;
    assert_eq!(redelivered["attempt"], 3);
    assert_eq!(redelivered["envelope"]["attempt"], 3);
}

/// §5.2 (deadline passed → EXPIRED on status) and §5.4 (a late response gets 410, which
/// receivers count as done).
#[tokio::test]
async fn a_late_response_after_the_deadline_is_gone() {
    let server = serve().await;
    let deadline = server.now() + chrono::TimeDelta::seconds(10);
    let id = server.create_id(json!({"deadline": deadline})).await;
    let lease = server.lease_one().await;
    assert_eq!(lease["envelope"]["deadline"], json!(deadline));
    server
        .sim
        .lock()
        .unwrap()
        .advance(Duration::from_secs(10))
        .unwrap();
    let status = server.get(&format!("/commands/{id}")).await;
    assert_eq!(status.json["state"], "EXPIRED");
    assert!(status.json.get("response").is_none());
    let late = server
        .respond(
            &lease,
            json!({"status": "success", "response": inline(&json!(1))}),
        )
        .await;
    assert_eq!(
        (late.status, &late.json["code"]),
        (410, &json!("COMMAND_EXPIRED"))
    );
}

/// §5.4: a response over maxInlineBytes is put through the storageUploadRequest and
/// submitted as `storage{size, storagePutUsed: true}`; status serves it from storage. A size
/// that does not match the upload is refused.
#[tokio::test]
async fn an_uploaded_response_is_read_and_served_from_storage() {
    let server = serve().await;
    let id = server.create_id(json!({})).await;
    let lease = server.lease_one().await;
    let upload = &lease["envelope"]["responseHandling"]["storageUploadRequest"];
    let big = vec![b'r'; 200_000];
    std::fs::write(upload["backend"]["filePath"].as_str().unwrap(), &big).unwrap();
    let wrong = server
        .respond(
            &lease,
            json!({"status": "success",
            "response": {"mode": "storage", "size": 3, "storagePutUsed": true}}),
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert!(
        wrong.json["message"]
            .as_str()
            .unwrap()
            .starts_with("response.size: 3 does not match the 200000 bytes"),
        "{}",
        wrong.json
    );
    let ok = server
        .respond(
            &lease,
            json!({"status": "success",
            "response": {"mode": "storage", "size": 200_000, "storagePutUsed": true}}),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.json);
    let status = server.get(&format!("/commands/{id}")).await;
    let body = &status.json["response"]["response"];
    assert_eq!(
        (&body["mode"], &body["size"], &body["storagePutUsed"]),
        (&json!("storage"), &json!(200_000), &json!(true))
    );
    let file = body["storageGetRequest"]["backend"]["filePath"]
        .as_str()
        .unwrap();
    assert_eq!(std::fs::read(file).unwrap(), big);
}

/// §5.1: an error response fails the command and status returns it, details included.
#[tokio::test]
async fn an_error_response_fails_the_command() {
    let server = serve().await;
    let id = server.create_id(json!({})).await;
    let lease = server.lease_one().await;
    let error = json!({"status": "error", "code": "UNKNOWN_COMMAND",
        "message": "no handler for sync", "details": {"known": []}});
    let reply = server.respond(&lease, error.clone()).await;
    assert_eq!(reply.json["state"], "FAILED");
    let status = server.get(&format!("/commands/{id}")).await;
    assert_eq!(status.json["response"], error);
}

/// §5.3–§5.4: a command for a worker is pushed at once; status carries the app's
/// `TaskSuccess{response_data}` bytes and the worker target.
#[tokio::test]
async fn a_pushed_commands_status_carries_the_apps_bytes() {
    let server = serve().await;
    let id = server
        .create_id(json!({"targetResourceId": "api", "command": "add"}))
        .await;
    {
        let mut sim = server.sim.lock().unwrap();
        sim.advance(Duration::ZERO).unwrap();
        let dispatch = sim.take_dispatches().remove(0);
        sim.set_command_response_data(&id, b"{\"sum\":3}".to_vec())
            .unwrap();
        let ok = HandlerResult::Ok {
            status: 200,
            body_bytes: 9,
        };
        sim.complete(dispatch.invocation, ok);
        assert_eq!(
            sim.command_status(&id).unwrap().state,
            CommandState::Succeeded
        );
    }
    let status = server.get(&format!("/commands/{id}")).await;
    assert_eq!(
        status.json["target"],
        json!({"resourceId": "api", "resourceType": "worker"})
    );
    assert_eq!(
        decoded(&status.json["response"]["response"]),
        b"{\"sum\":3}"
    );
}

/// The CLI's client (§5.6: a deadline must be in the future of the server's clock): its
/// deadline counts from the emulator's clock, time travel included; API errors keep their
/// code.
#[tokio::test]
async fn the_client_creates_and_reads_status() {
    let server = serve().await;
    server
        .sim
        .lock()
        .unwrap()
        .advance(Duration::from_secs(86_400))
        .unwrap();
    let client = CommandsClient::new(format!("{}/", server.url), DEPLOYMENT);
    let id = client
        .create(
            "agent",
            "sync",
            &json!({"a": 1}),
            Some(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    let status = client.status(&id).await.unwrap();
    assert_eq!(status["state"], "PENDING");
    let lease = server.lease_one().await;
    assert_eq!(
        lease["envelope"]["deadline"],
        json!(server.now() + chrono::TimeDelta::seconds(30))
    );
    assert_eq!(decoded(&lease["envelope"]["params"]), br#"{"a":1}"#);
    match client.create("ghost", "sync", &json!({}), None).await {
        Err(CommandsClientError::Api { status, code, .. }) => {
            assert_eq!((status, code.as_str()), (404, "TARGET_NOT_FOUND"));
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    assert!(matches!(
        client.status("no such/id").await,
        Err(CommandsClientError::Api { status: 404, .. })
    ));
}
