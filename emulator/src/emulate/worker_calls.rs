//! Worker-to-worker calls (seed 000: "workers can call each other directly"). A worker that
//! links another gets a `local{workerUrl}` binding pointing here
//! (`/workers/{caller}/{target}`); the published SDK then sends plain HTTP to
//! `workerUrl/path` (published-3.3.49.md §5.4). The emulator applies what the platform
//! would, before and after forwarding to the target app's port:
//!
//! - the caller must link the target, and the platform's IAM must allow the call
//!   (`worker/invoke`: lambda:InvokeFunction, run.invoker; see [`super::iam`]);
//! - AWS (`InvokeTransport::LambdaInvoke`, upstream-runtime-and-bindings.md §3.5): the request
//!   travels as a Lambda `Invoke` RequestResponse payload `{httpMethod, path, headers, body
//!   (base64), isBase64Encoded: true}`, so the 6 MB synchronous limit applies to that JSON,
//!   base64 included, and the answer is refused past 6 MB too; a target that fails (crash,
//!   timeout, no answer) is a function error (`X-Amz-Function-Error: Unhandled`), which the
//!   Lambda provider turns into an error for the caller;
//! - elsewhere (`Http`): HTTP to the target's private URL, with the target's request limit.
//!
//! Private workers have no gateway, so this route is the only way to reach them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};

use super::gateway::UpstreamPort;
use super::iam::{Iam, Operation};
use crate::engine::SharedSim;
use crate::profile::{InvokeTransport, Profile};
use crate::stack::Stack;

/// Most of a request body this route reads (beyond every platform's limit, so the limit
/// check, not the route, answers).
const BODY_CAP: usize = 64 * 1024 * 1024;

/// What one target needs: its app port and its timeout.
#[derive(Clone)]
pub struct Target {
    pub upstream: UpstreamPort,
    pub timeout: Duration,
}

#[derive(Clone)]
struct CallState {
    sim: SharedSim,
    iam: Arc<Iam>,
    profile: Arc<Profile>,
    /// caller → the workers it links.
    links: Arc<BTreeMap<String, Vec<String>>>,
    targets: Arc<BTreeMap<String, Target>>,
    client: reqwest::Client,
}

/// The binding a caller gets for linked worker `target`: `local{workerUrl}`.
pub fn worker_binding(control_url: &str, caller: &str, target: &str) -> Value {
    json!({
        "service": "local",
        "workerUrl": format!("{control_url}/workers/{caller}/{target}"),
    })
}

/// The route `ANY /workers/{caller}/{target}[/{*path}]`.
pub fn router(
    sim: SharedSim,
    stack: &Stack,
    profile: &Profile,
    iam: Arc<Iam>,
    targets: BTreeMap<String, Target>,
) -> Router {
    let links = stack
        .workers()
        .map(|(id, w)| {
            let linked = w
                .links
                .iter()
                .filter(|l| l.resource_type == "worker")
                .map(|l| l.id.clone())
                .collect();
            (id.to_string(), linked)
        })
        .collect();
    let state = CallState {
        sim,
        iam,
        profile: Arc::new(profile.clone()),
        links: Arc::new(links),
        targets: Arc::new(targets),
        client: reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap_or_default(),
    };
    Router::new()
        .route("/workers/{caller}/{target}", any(root))
        .route("/workers/{caller}/{target}/{*path}", any(with_path))
        .layer(DefaultBodyLimit::max(BODY_CAP))
        .with_state(state)
}

async fn root(
    State(state): State<CallState>,
    Path((caller, target)): Path<(String, String)>,
    request: Request,
) -> Response {
    call(state, caller, target, String::new(), request).await
}

async fn with_path(
    State(state): State<CallState>,
    Path((caller, target, path)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    call(state, caller, target, path, request).await
}

/// A refusal or failure as JSON, with the platform's error header where it has one.
fn refuse(status: StatusCode, headers: &[(&'static str, String)], body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().insert(*name, value);
        }
    }
    response
}

/// Size of the Lambda `Invoke` payload upstream's provider builds for this request: the
/// JSON envelope with the body base64-encoded (4 characters per 3 bytes, padded).
pub fn lambda_request_payload_bytes(
    method: &str,
    path: &str,
    headers: &BTreeMap<String, String>,
    body_len: usize,
) -> u64 {
    let envelope = json!({
        "httpMethod": method, "path": path, "headers": headers,
        "body": "", "isBase64Encoded": true,
    });
    envelope.to_string().len() as u64 + 4 * (body_len as u64).div_ceil(3)
}

/// Size of the Lambda response payload for an HTTP answer (`{statusCode, headers, body
/// (base64), isBase64Encoded}`).
fn lambda_response_payload_bytes(headers: &BTreeMap<String, String>, body_len: usize) -> u64 {
    let envelope =
        json!({"statusCode": 200, "headers": headers, "body": "", "isBase64Encoded": true});
    envelope.to_string().len() as u64 + 4 * (body_len as u64).div_ceil(3)
}

fn header_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
        .collect()
}

async fn call(
    state: CallState,
    caller: String,
    target: String,
    path: String,
    request: Request,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let query = request
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let path = format!("/{path}");
    let headers = header_map(request.headers());
    let body = match axum::body::to_bytes(request.into_body(), BODY_CAP).await {
        Ok(body) => body,
        Err(e) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                &[],
                json!({"message": format!("reading the request body: {e}")}),
            );
        }
    };
    let outcome = forward(
        &state, &caller, &target, &method, &path, &query, &headers, body,
    )
    .await;
    let (status, reason) = match &outcome {
        Ok(response) => (response.status().as_u16(), format!("called by '{caller}'")),
        Err(refusal) => (refusal.status().as_u16(), "refused".to_string()),
    };
    {
        let mut sim = state.sim.lock().unwrap_or_else(|p| p.into_inner());
        sim.note_http(
            &target,
            method.as_str(),
            &path,
            status,
            &reason,
            started.elapsed(),
        );
    }
    outcome.unwrap_or_else(|refusal| refusal)
}

#[allow(clippy::too_many_arguments)]
async fn forward(
    state: &CallState,
    caller: &str,
    target: &str,
    method: &Method,
    path: &str,
    query: &str,
    headers: &BTreeMap<String, String>,
    body: Bytes,
) -> Result<Response, Response> {
    let lambda = state.profile.worker.invoke_transport.value == InvokeTransport::LambdaInvoke;
    let Some(destination) = state.targets.get(target) else {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            &[],
            json!({"message": format!("no worker named '{target}' in the stack")}),
        ));
    };
    if !state
        .links
        .get(caller)
        .is_some_and(|linked| linked.iter().any(|l| l == target))
    {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            &[],
            json!({"message": format!(
                "worker '{caller}' does not link worker '{target}': add a link to get a binding for it"
            )}),
        ));
    }
    if let Err(denied) = state.iam.check(caller, target, Operation::WorkerInvoke) {
        let status = StatusCode::from_u16(denied.status).unwrap_or(StatusCode::FORBIDDEN);
        return Err(refuse(
            status,
            &[("x-amzn-errortype", denied.code.to_string())],
            json!({"code": denied.code, "message": denied.message}),
        ));
    }
    let limit = state.profile.worker.sync_request_max_bytes.value;
    if lambda {
        let size = lambda_request_payload_bytes(method.as_str(), path, headers, body.len());
        if let Some(limit) = limit.filter(|l| size > *l) {
            // [platform knowledge] Lambda's RequestEntityTooLargeException for InvokeFunction.
            return Err(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                &[("x-amzn-errortype", "RequestEntityTooLargeException".into())],
                json!({
                    "Type": "User",
                    "message": format!(
                        "Request must be smaller than {limit} bytes for the InvokeFunction operation (the invoke payload was {size} bytes: a {} byte body becomes {} bytes of base64)",
                        body.len(), 4 * (body.len() as u64).div_ceil(3)
                    ),
                }),
            ));
        }
    } else if let Some(limit) = limit.filter(|l| body.len() as u64 > *l) {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &[],
            json!({"message": format!(
                "request body {} bytes exceeds the target's {limit} byte limit", body.len()
            )}),
        ));
    }
    let function_error = |message: String, error_type: &str| {
        refuse(
            StatusCode::BAD_GATEWAY,
            &[("x-amz-function-error", "Unhandled".into())],
            json!({"errorType": error_type, "errorMessage": message}),
        )
    };
    let Some(port) = destination.upstream.get() else {
        let message = format!("worker '{target}' has no running app to answer");
        return Err(if lambda {
            function_error(message, "Runtime.Unavailable")
        } else {
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                &[],
                json!({"message": message}),
            )
        });
    };
    let mut outbound = state
        .client
        .request(
            method.clone(),
            format!("http://127.0.0.1:{port}{path}{query}"),
        )
        .timeout(destination.timeout)
        .body(body);
    for (name, value) in headers {
        if !matches!(name.as_str(), "host" | "content-length" | "connection") {
            outbound = outbound.header(name, value);
        }
    }
    let response = match outbound.send().await {
        Ok(response) => response,
        Err(e) if e.is_timeout() => {
            let message = format!(
                "Task timed out after {:.2} seconds",
                destination.timeout.as_secs_f64()
            );
            return Err(if lambda {
                function_error(message, "Sandbox.Timedout")
            } else {
                refuse(
                    StatusCode::GATEWAY_TIMEOUT,
                    &[],
                    json!({"message": message}),
                )
            });
        }
        Err(e) => {
            let message = format!("worker '{target}' did not answer: {e}");
            return Err(if lambda {
                function_error(message, "Runtime.ExitError")
            } else {
                refuse(StatusCode::BAD_GATEWAY, &[], json!({"message": message}))
            });
        }
    };
    let status = response.status();
    let response_headers = header_map(response.headers());
    let bytes = response.bytes().await.unwrap_or_default();
    let response_limit = state.profile.worker.sync_response_max_bytes.value;
    if lambda {
        let size = lambda_response_payload_bytes(&response_headers, bytes.len());
        if let Some(limit) = response_limit.filter(|l| size > *l) {
            return Err(function_error(
                format!(
                    "Response payload size exceeded maximum allowed payload size ({limit} bytes)."
                ),
                "Function.ResponseSizeTooLarge",
            ));
        }
    }
    let mut answer = Response::builder().status(status.as_u16());
    for (name, value) in &response_headers {
        if !matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            answer = answer.header(name, value);
        }
    }
    Ok(answer
        .body(Body::from(bytes))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 6 MB Lambda limit applies to the base64 envelope: a 4.5 MiB body is already
    /// 6 MiB of base64, so it no longer fits (upstream-runtime-and-bindings.md §3.5).
    #[test]
    fn lambda_payload_counts_base64() {
        let headers = BTreeMap::new();
        let small = lambda_request_payload_bytes("POST", "/echo", &headers, 3);
        assert_eq!(
            small,
            r#"{"body":"","headers":{},"httpMethod":"POST","isBase64Encoded":true,"path":"/echo"}"#
                .len() as u64
                + 4
        );
        let limit = 6 * 1024 * 1024;
        assert!(lambda_request_payload_bytes("POST", "/echo", &headers, 4 * 1024 * 1024) < limit);
        assert!(
            lambda_request_payload_bytes("POST", "/echo", &headers, 4_718_592) > limit,
            "4.5 MiB of body is 6 MiB of base64 plus the envelope"
        );
    }
}
