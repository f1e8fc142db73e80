//! The one place where Blob Storage SDK failures become [`ProviderError`]s.
//!
//! Codes are the `x-ms-error-code` values of "Blob service error codes" and "Common REST API
//! error codes" (Microsoft Learn), e.g. `ContainerNotFound`, `InvalidResourceName`,
//! `AuthenticationFailed`, `ServerBusy`.

use azure_core::error::ErrorKind as CoreKind;
use azure_core::http::headers::HeaderName;

use crate::error::{ErrorKind, ProviderError};

const NOT_FOUND: &[&str] = &["ContainerNotFound", "BlobNotFound", "ResourceNotFound"];
const ALREADY_EXISTS: &[&str] = &["ContainerAlreadyExists", "BlobAlreadyExists"];
const INVALID: &[&str] = &[
    "InvalidResourceName",
    "InvalidUri",
    "InvalidQueryParameterValue",
    "InvalidHeaderValue",
    "InvalidInput",
    "InvalidMetadata",
    "OutOfRangeInput",
    "MissingRequiredHeader",
    "InvalidBlobOrBlock",
];
const DENIED: &[&str] = &[
    "AuthenticationFailed",
    "AuthorizationFailure",
    "AuthorizationPermissionMismatch",
    "InsufficientAccountPermissions",
];
const TOO_LARGE: &[&str] = &["RequestBodyTooLarge", "BlobTooLarge"];
const PRECONDITION: &[&str] = &["ConditionNotMet", "TargetConditionNotMet"];

/// Turns a failed blob SDK call into a [`ProviderError`]; `action` names the REST operation
/// (`PutBlob`) and prefixes the message, `sent_bytes` is the body size a write carried.
///
/// An HTTP failure is classified by its `x-ms-error-code` first, then by status (400 →
/// `InvalidArgument`, 401/403 → `PermissionDenied`, 404 → `NotFound`, 409 → `AlreadyExists`,
/// 412 → `PreconditionFailed`, 413 → `PayloadTooLarge`, 429 and 503 `ServerBusy` →
/// `Throttled`, 408/500/503 → `Timeout`/`Internal`/`Unavailable`); a failure to connect or an
/// I/O error is `Unavailable`.
pub fn map_blob_error(
    action: &str,
    sent_bytes: Option<u64>,
    err: azure_core::Error,
) -> ProviderError {
    let (kind, message) = match err.kind() {
        CoreKind::HttpResponse {
            status,
            error_code,
            raw_response,
        } => {
            let status = u16::from(*status);
            let header = raw_response.as_ref().and_then(|raw| {
                raw.headers()
                    .get_optional_string(&HeaderName::from_static("x-ms-error-code"))
            });
            let code = header.or_else(|| error_code.clone()).unwrap_or_default();
            let body = raw_response
                .as_ref()
                .map(|raw| String::from_utf8_lossy(raw.body()).into_owned())
                .unwrap_or_default();
            let text = xml_element(&body, "Message").unwrap_or_default();
            let text = text.lines().next().unwrap_or_default().to_owned();
            (
                classify(status, &code, sent_bytes),
                format!("{action}: {status} {code}: {text}"),
            )
        }
        CoreKind::Connection | CoreKind::Io => (
            ErrorKind::Unavailable,
            format!("{action}: transport failure: {err}"),
        ),
        CoreKind::Credential => (
            ErrorKind::PermissionDenied {
                permission: "storage account credential".to_owned(),
            },
            format!("{action}: {err}"),
        ),
        _ => (ErrorKind::Internal, format!("{action}: {err}")),
    };
    ProviderError::new(kind, message).with_source(err)
}

/// The text of the first `<name>…</name>` element of a storage error body
/// (`<Error><Code>…</Code><Message>…</Message></Error>`).
fn xml_element(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{name}>"))?;
    Some(body[start..start + end].to_owned())
}

fn classify(status: u16, code: &str, sent_bytes: Option<u64>) -> ErrorKind {
    let is = |set: &[&str]| set.contains(&code);
    if is(NOT_FOUND) {
        ErrorKind::NotFound
    } else if is(ALREADY_EXISTS) {
        ErrorKind::AlreadyExists
    } else if is(INVALID) {
        ErrorKind::InvalidArgument
    } else if is(DENIED) {
        ErrorKind::PermissionDenied {
            permission: format!("storage: {code}"),
        }
    } else if is(TOO_LARGE) || status == 413 {
        ErrorKind::PayloadTooLarge {
            size: sent_bytes.unwrap_or(0),
            // "Scalability targets for Blob storage": 5000 MiB for one Put Blob (x-ms-version
            // 2019-12-12 and later).
            limit: 5000 * 1024 * 1024,
        }
    } else if is(PRECONDITION) {
        ErrorKind::PreconditionFailed
    } else if code == "ServerBusy" || status == 429 {
        ErrorKind::Throttled
    } else {
        match status {
            400 => ErrorKind::InvalidArgument,
            401 | 403 => ErrorKind::PermissionDenied {
                permission: "storage account credential".to_owned(),
            },
            404 => ErrorKind::NotFound,
            409 => ErrorKind::AlreadyExists,
            412 => ErrorKind::PreconditionFailed,
            408 | 504 => ErrorKind::Timeout,
            503 => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // "Blob service error codes" (Microsoft Learn): code → status pairs as documented.
    #[test]
    fn documented_codes_classify() {
        assert_eq!(
            classify(404, "ContainerNotFound", None),
            ErrorKind::NotFound
        );
        assert_eq!(
            classify(409, "ContainerAlreadyExists", None),
            ErrorKind::AlreadyExists
        );
        assert_eq!(
            classify(400, "InvalidResourceName", None),
            ErrorKind::InvalidArgument
        );
        assert_eq!(classify(503, "ServerBusy", None), ErrorKind::Throttled);
        assert_eq!(classify(503, "", None), ErrorKind::Unavailable);
        assert_eq!(
            classify(413, "RequestBodyTooLarge", Some(7)).name(),
            "PayloadTooLarge"
        );
        assert_eq!(
            classify(403, "AuthenticationFailed", None).name(),
            "PermissionDenied"
        );
        assert_eq!(
            classify(412, "ConditionNotMet", None),
            ErrorKind::PreconditionFailed
        );
    }
}
