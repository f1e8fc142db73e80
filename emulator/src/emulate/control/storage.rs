//! Object routes: `PUT` / `GET` / `DELETE /storage/{bucket}/objects/{*key}`, with the
//! storage-key checks they share.

use alien_providers::ProviderError;
use alien_providers::validate::validate_storage_key;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::ControlState;
use super::error::{ApiError, ApiResult};
use super::wire::{path_params, percent_decode};
use crate::emulate::record::Input;

/// The storage key of a request, refused when unsafe. Axum has already percent-decoded it
/// once; a key that still holds `%` escapes is decoded once more and checked again, so
/// `%252e%252e` cannot become `..` in a layer that decodes again (the emulator mirrors buckets
/// into directories).
fn storage_key(path: Result<Path<(String, String)>, PathRejection>) -> ApiResult<(String, String)> {
    let (bucket, key) = path_params(path)?;
    let refuse = |e: ProviderError| {
        ApiError::bad_request(format!("invalid storage key {key:?}: {}", e.message))
    };
    validate_storage_key(&key).map_err(refuse)?;
    if key.contains('%')
        && let Some(decoded) = percent_decode(&key)
        && decoded != key
    {
        validate_storage_key(&decoded).map_err(|e| {
            ApiError::bad_request(format!(
                "invalid storage key {key:?} (decodes to {decoded:?}): {}",
                e.message
            ))
        })?;
    }
    Ok((bucket, key))
}

pub(super) async fn put_object(
    State(state): State<ControlState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<axum::Json<Value>> {
    let (bucket, key) = storage_key(path)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let size = body.len();
    let etag = state
        .inner
        .objects
        .put(state.engine(), &bucket, &key, body.to_vec(), &content_type)
        .await?;
    state.record_now(|| Input::Put {
        bucket,
        key,
        size: size as u64,
        content_type,
    });
    state.notify_trace();
    Ok(axum::Json(json!({ "etag": etag, "size": size })))
}

/// The object's bytes as they are (under `alien emulate`, read from the bucket directory,
/// where the app's binding may have written them), with their MD5 as the ETag.
pub(super) async fn get_object(
    State(state): State<ControlState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Response> {
    let (bucket, key) = storage_key(path)?;
    let object = state
        .inner
        .objects
        .get(state.engine(), &bucket, &key)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no object '{key}' in storage '{bucket}'")))?;
    let mut response = Response::new(Body::from(object.body));
    let headers = response.headers_mut();
    let content_type = object
        .content_type
        .as_deref()
        .unwrap_or("application/octet-stream");
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::ETAG, object.etag.as_str()),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    if let Some(value) = object
        .last_modified
        .and_then(|t| HeaderValue::from_str(&t.to_rfc2822()).ok())
    {
        headers.insert(header::LAST_MODIFIED, value);
    }
    Ok(response)
}

pub(super) async fn delete_object(
    State(state): State<ControlState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<StatusCode> {
    let (bucket, key) = storage_key(path)?;
    state
        .inner
        .objects
        .delete(state.engine(), &bucket, &key)
        .await?;
    state.record_now(|| Input::Delete { bucket, key });
    state.notify_trace();
    Ok(StatusCode::NO_CONTENT)
}
