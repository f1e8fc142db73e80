//! The JSON that upstream's Lambda worker binding sends to `Invoke` and reads back
//! (upstream-runtime-and-bindings.md §3.5): an API-Gateway-v1-like request
//! `{httpMethod, path, headers, body (base64), isBase64Encoded: true}` and a response
//! `{statusCode, headers, body, isBase64Encoded}`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ErrorKind, ProviderError, Result};
use crate::worker::{WorkerInvokeRequest, WorkerInvokeResponse};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InvokeRequest<'a> {
    http_method: &'a str,
    path: &'a str,
    headers: &'a BTreeMap<String, String>,
    body: String,
    is_base64_encoded: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvokeResponse {
    status_code: u16,
    #[serde(default)]
    headers: BTreeMap<String, Value>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    is_base64_encoded: bool,
}

/// The `Invoke` payload for `request`; the body is always base64 (`isBase64Encoded: true`).
pub(super) fn encode_request(request: &WorkerInvokeRequest) -> Vec<u8> {
    let payload = InvokeRequest {
        http_method: &request.method,
        path: &request.path,
        headers: &request.headers,
        body: STANDARD.encode(&request.body),
        is_base64_encoded: true,
    };
    // Serializing strings and a string map cannot fail.
    serde_json::to_vec(&payload).unwrap_or_default()
}

/// Reads the `Invoke` result of `function`. A `FunctionError` (`Unhandled`, `Handled`) is
/// [`ErrorKind::Internal`] carrying the function's `errorType` and `errorMessage`; a payload
/// that is not an HTTP response is `Internal` too.
pub(super) fn decode_response(
    function: &str,
    function_error: Option<&str>,
    payload: &[u8],
) -> Result<WorkerInvokeResponse> {
    if let Some(kind) = function_error {
        return Err(ProviderError::new(
            ErrorKind::Internal,
            format!(
                "lambda:InvokeFunction: function '{function}' failed ({kind}): {}",
                describe_function_error(payload)
            ),
        ));
    }
    let response: InvokeResponse = serde_json::from_slice(payload).map_err(|e| {
        ProviderError::new(
            ErrorKind::Internal,
            format!("lambda:InvokeFunction: function '{function}' returned no HTTP response: {e}"),
        )
    })?;
    let body = response.body.unwrap_or_default();
    let body = if response.is_base64_encoded {
        STANDARD.decode(body.as_bytes()).map_err(|e| {
            ProviderError::new(
                ErrorKind::Internal,
                format!("lambda:InvokeFunction: function '{function}' returned bad base64: {e}"),
            )
        })?
    } else {
        body.into_bytes()
    };
    Ok(WorkerInvokeResponse {
        status: response.status_code,
        headers: response
            .headers
            .into_iter()
            .map(|(name, value)| match value {
                Value::String(text) => (name, text),
                other => (name, other.to_string()),
            })
            .collect(),
        body,
    })
}

/// `"{errorType}: {errorMessage}"` from a Lambda error payload, or the raw payload.
fn describe_function_error(payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(payload);
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(error)) => {
            let field = |name: &str| error.get(name).and_then(Value::as_str).unwrap_or_default();
            match (field("errorType"), field("errorMessage")) {
                ("", "") => text.into_owned(),
                ("", message) => message.to_owned(),
                (kind, message) => format!("{kind}: {message}"),
            }
        }
        _ => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // upstream-runtime-and-bindings.md §3.5: {httpMethod, path, headers, body (base64),
    // isBase64Encoded: true}.
    #[test]
    fn request_has_upstreams_shape() {
        let request = WorkerInvokeRequest {
            target_worker: String::new(),
            method: "POST".into(),
            path: "/jobs/7".into(),
            headers: BTreeMap::from([("content-type".into(), "text/plain".into())]),
            body: b"hello".to_vec(),
            timeout: None,
        };
        let sent: Value = serde_json::from_slice(&encode_request(&request)).unwrap_or_default();
        assert_eq!(
            sent,
            json!({
                "httpMethod": "POST",
                "path": "/jobs/7",
                "headers": {"content-type": "text/plain"},
                "body": "aGVsbG8=",
                "isBase64Encoded": true
            })
        );
    }

    // §3.5: statusCode / headers / body / isBase64Encoded form the response.
    #[test]
    fn base64_response_is_decoded() {
        let payload = json!({
            "statusCode": 201,
            "headers": {"x-trace": "t1", "x-count": 2},
            "body": "aGk=",
            "isBase64Encoded": true
        });
        let response = decode_response("fn", None, payload.to_string().as_bytes());
        let response = response.unwrap_or_default();
        assert_eq!(response.status, 201);
        assert_eq!(response.body, b"hi");
        assert_eq!(
            response.headers,
            BTreeMap::from([
                ("x-count".into(), "2".into()),
                ("x-trace".into(), "t1".into())
            ])
        );
    }

    #[test]
    fn plain_body_is_taken_as_text() {
        let payload = br#"{"statusCode":404,"body":"missing","isBase64Encoded":false}"#;
        let response = decode_response("fn", None, payload).unwrap_or_default();
        assert_eq!((response.status, response.body), (404, b"missing".to_vec()));
    }

    // §3.5: a FunctionError is an error; the function's errorType/errorMessage are kept.
    #[test]
    fn function_error_is_internal() {
        let payload = br#"{"errorType":"TypeError","errorMessage":"boom","trace":[]}"#;
        let err = decode_response("api", Some("Unhandled"), payload).err();
        assert_eq!(err.as_ref().map(|e| &e.kind), Some(&ErrorKind::Internal));
        assert_eq!(
            err.map(|e| e.message).as_deref(),
            Some("lambda:InvokeFunction: function 'api' failed (Unhandled): TypeError: boom")
        );
    }

    #[test]
    fn non_http_payload_is_internal() {
        let err = decode_response("fn", None, b"null").err();
        assert_eq!(err.map(|e| e.kind), Some(ErrorKind::Internal));
        let err = decode_response(
            "fn",
            None,
            br#"{"statusCode":200,"body":"%%","isBase64Encoded":true}"#,
        )
        .err();
        assert_eq!(err.map(|e| e.kind), Some(ErrorKind::Internal));
    }
}
