//! The handlers of [`super::router`]: decode and check the request, run it in the engine
//! under one lock, wake the driver, encode the reply (upstream-runtime-and-bindings.md
//! §5.1–§5.2, §5.4; published-3.3.49.md §10).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;
use super::payloads::{Payloads, RESPONSE_CREDENTIAL_LIFETIME, after};
use super::wire::{
    BodyIn, CommandStatusResponse, CreateCommandRequest, CreateCommandResponse, Envelope,
    LeaseInfo, LeaseRequest, LeaseResponse, PROTOCOL, ResponseHandling, ResponseOut, StateReply,
    SubmitResponseRequest, Target,
};
use super::{BODY_LIMIT, CommandsApi, base64};

/// A JSON body, or 400 naming the field at fault (413 over [`BODY_LIMIT`]).
fn decode<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = body.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
            ApiError::new(
                "PAYLOAD_TOO_LARGE",
                format!("the request body exceeds {BODY_LIMIT} bytes"),
            )
        }
        other => ApiError::invalid("body", other.body_text()),
    })?;
    let mut json = serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body" } else { path.as_str() };
        ApiError::invalid(field, e.inner())
    })
}

/// The command name occupies one segment of upstream's idempotency key, so it is non-empty
/// and has no `:` (alien-commands `validate_command_name`).
fn check_name(name: &str) -> Result<(), ApiError> {
    let problem = if name.is_empty() {
        "cannot be empty"
    } else if name.contains(':') {
        "must not contain ':'"
    } else {
        return Ok(());
    };
    Err(ApiError::new(
        "INVALID_COMMAND",
        format!("command: {problem}"),
    ))
}

/// Inline params: base64 of JSON (both SDKs send JSON params, §5.4, §7.3).
fn decode_params(params: BodyIn, inline_max: u64) -> Result<Value, ApiError> {
    let invalid = |message: String| ApiError::new("INVALID_COMMAND", message);
    match params {
        BodyIn::Inline { inline_base64 } => {
            let bytes = base64::decode(&inline_base64)
                .map_err(|e| invalid(format!("params.inlineBase64: not base64: {e}")))?;
            serde_json::from_slice(&bytes).map_err(|e| {
                invalid(format!(
                    "params: the decoded params are not JSON ({e}); apps read params as JSON"
                ))
            })
        }
        BodyIn::Storage { .. } => Err(invalid(format!(
            "params: storage mode needs upstream's upload flow, which the emulator does not \
             serve; send the params inline (any size: over {inline_max} bytes the emulator \
             moves them to storage itself)"
        ))),
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn io_error(what: &str) -> impl Fn(std::io::Error) -> ApiError + '_ {
    move |e| ApiError::internal(format!("{what}: {e}"))
}

/// `POST /commands`.
pub(super) async fn create(
    State(api): State<CommandsApi>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CreateCommandResponse>, ApiError> {
    let request: CreateCommandRequest = decode(body)?;
    api.check_deployment(&request.deployment_id)?;
    check_name(&request.command)?;
    let inline_max = api.inner.payloads.inline_max();
    let params = decode_params(request.params, inline_max)?;
    let created = api
        .apply(|sim| {
            let now = sim.now();
            if let Some(deadline) = request.deadline.filter(|d| *d <= now) {
                return Err(ApiError::new(
                    "INVALID_COMMAND",
                    format!(
                        "deadline: {} is not in the future (emulator now {})",
                        rfc3339(deadline),
                        rfc3339(now)
                    ),
                ));
            }
            sim.create_command_request(
                request.target_resource_id.as_deref(),
                &request.command,
                params,
                request.deadline,
                request.idempotency_key.as_deref(),
            )
            .map_err(|e| ApiError::new(e.code(), format!("targetResourceId: {e}")))
        })
        .await??;
    api.wake();
    Ok(Json(CreateCommandResponse {
        command_id: created.command_id,
        created: created.created,
        state: created.state,
        inline_allowed_up_to: inline_max,
        next: "poll",
    }))
}

/// `GET /commands/{id}` (expires a command whose deadline passed, §5.2).
pub(super) async fn status(
    State(api): State<CommandsApi>,
    Path(command_id): Path<String>,
) -> Result<Json<CommandStatusResponse>, ApiError> {
    let (status, now) = api
        .apply(|sim| (sim.refresh_command_status(&command_id), sim.now()))
        .await?;
    api.wake();
    let status = status
        .ok_or_else(|| ApiError::new("COMMAND_NOT_FOUND", format!("no command '{command_id}'")))?;
    let response = match status.response {
        None => None,
        Some(Ok(bytes)) => {
            let id = command_id.clone();
            Some(ResponseOut::Success {
                response: api
                    .payload_io(move |payloads| {
                        payloads
                            .response_body(&id, &bytes, now)
                            .map_err(io_error("writing the response file"))
                    })
                    .await?,
            })
        }
        Some(Err(failure)) => Some(ResponseOut::Error {
            code: failure.code,
            message: failure.message,
            details: failure.details,
        }),
    };
    Ok(Json(CommandStatusResponse {
        command_id: status.command_id,
        state: status.state,
        attempt: status.attempt,
        target: Target {
            resource_id: status.target.resource_id,
            resource_type: status.target.resource_type.to_string(),
        },
        response,
    }))
}

/// `POST /commands/leases`.
pub(super) async fn lease(
    State(api): State<CommandsApi>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<LeaseResponse>, ApiError> {
    api.authorize(&headers)?;
    let request: LeaseRequest = decode(body)?;
    api.check_deployment(&request.deployment_id)?;
    let kind = request.target.resource_type.as_str();
    if kind != "daemon" {
        return Err(ApiError::invalid(
            "target.resourceType",
            format!(
                "'{kind}': only daemons lease commands in the emulator (workers get theirs \
                 pushed; containers are not emulated)"
            ),
        ));
    }
    if request.lease_seconds == 0 {
        return Err(ApiError::invalid("leaseSeconds", "must be at least 1"));
    }
    let (grants, now) = api
        .apply(|sim| {
            let grants = sim
                .lease_commands(
                    &request.target.resource_id,
                    request.max_leases,
                    request.lease_seconds,
                )
                .map_err(|e| ApiError::new(e.code(), format!("target.resourceId: {e}")))?;
            Ok::<_, ApiError>((grants, sim.now()))
        })
        .await??;
    api.wake();
    let inline_max = api.inner.payloads.inline_max();
    let mut leases = Vec::with_capacity(grants.len());
    for grant in grants {
        let id = grant.command_id;
        let (file_id, grant_params) = (id.clone(), grant.params);
        let (params, upload) = api
            .payload_io(move |payloads| {
                let params = payloads
                    .params_body(&file_id, &grant_params, now)
                    .map_err(io_error("writing the params file"))?;
                let upload = payloads
                    .upload_request(&file_id, now)
                    .map_err(io_error("preparing the response directory"))?;
                Ok((params, upload))
            })
            .await?;
        let expires = after(now, RESPONSE_CREDENTIAL_LIFETIME).timestamp();
        let token = api.response_token(&id)?;
        leases.push(LeaseInfo {
            lease_id: grant.lease_id,
            lease_expires_at: grant.lease_expires_at,
            command_id: id.clone(),
            attempt: grant.attempt,
            envelope: Envelope {
                protocol: PROTOCOL,
                deployment_id: api.inner.deployment_id.clone(),
                target: Target {
                    resource_id: grant.target.resource_id,
                    resource_type: grant.target.resource_type.to_string(),
                },
                command_id: id.clone(),
                attempt: grant.attempt,
                deadline: grant.deadline,
                command: grant.name,
                params,
                response_handling: ResponseHandling {
                    max_inline_bytes: inline_max,
                    submit_response_url: format!(
                        "/commands/{id}/response?response_token={token}&expires={expires}"
                    ),
                    storage_upload_request: upload,
                },
            },
        });
    }
    Ok(Json(LeaseResponse { leases }))
}

/// `POST /commands/leases/{leaseId}/release` (the `ReleaseRequest` body is optional).
pub(super) async fn release(
    State(api): State<CommandsApi>,
    headers: HeaderMap,
    Path(lease_id): Path<String>,
) -> Result<Json<StateReply>, ApiError> {
    api.authorize(&headers)?;
    let status = api
        .apply(|sim| sim.release_lease(&lease_id))
        .await?
        .map_err(|e| ApiError::new(e.code(), e.to_string()))?;
    api.wake();
    Ok(Json(status.into()))
}

/// `PUT /commands/{id}/response` with a `SubmitResponseRequest`.
pub(super) async fn submit(
    State(api): State<CommandsApi>,
    Path(command_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<StateReply>, ApiError> {
    api.authorize_response(&headers, query.as_deref(), &command_id)?;
    let request: SubmitResponseRequest = decode(body)?;
    if api.sim().command_status(&command_id).is_none() {
        return Err(ApiError::new(
            "COMMAND_NOT_FOUND",
            format!("no command '{command_id}'"),
        ));
    }
    let response = match request {
        SubmitResponseRequest::Success {
            response: BodyIn::Inline { inline_base64 },
        } => Ok(base64::decode(&inline_base64)
            .map_err(|e| ApiError::invalid("response.inlineBase64", e))?),
        SubmitResponseRequest::Success {
            response: BodyIn::Storage { size },
        } => {
            let id = command_id.clone();
            Ok(api
                .payload_io(move |payloads| uploaded_response(payloads, &id, size))
                .await?)
        }
        SubmitResponseRequest::Error {
            code,
            message,
            details,
        } => Err((code, message, details)),
    };
    let status = api
        .apply(|sim| match response {
            Ok(bytes) => sim.submit_command_success(&command_id, bytes),
            Err((code, message, details)) => {
                sim.submit_command_error(&command_id, &code, &message, details)
            }
        })
        .await?
        .map_err(|e| ApiError::new(e.code(), e.to_string()))?;
    api.wake();
    Ok(Json(status.into()))
}

/// A response the receiver put through the `storageUploadRequest` (§5.4); its `size`, when
/// given, must match the file.
fn uploaded_response(
    payloads: &Payloads,
    command_id: &str,
    size: Option<u64>,
) -> Result<Vec<u8>, ApiError> {
    let path = payloads.response_path(command_id);
    let bytes = payloads.read_response(command_id).map_err(|e| {
        ApiError::invalid(
            "response",
            format!(
                "storage mode, but nothing readable was uploaded to {}: {e}",
                path.display()
            ),
        )
    })?;
    match size {
        Some(size) if size != bytes.len() as u64 => Err(ApiError::invalid(
            "response.size",
            format!(
                "{size} does not match the {} bytes uploaded to {}",
                bytes.len(),
                path.display()
            ),
        )),
        _ => Ok(bytes),
    }
}
