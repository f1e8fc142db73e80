//! Cloud Storage JSON API failures as the crates' error type, so that they reach
//! [`map_gcp_error`](super::map_gcp_error) like every other Google failure.

use bytes::Bytes;
use google_cloud_storage::Error;

/// An HTTP error answer as the crates' error: the body's `google.rpc.Status` when it has
/// one. The JSON API's bodies (`{"error":{"code":404,"message","errors"}}`) carry no
/// `status` name, so the crates read them as `UNKNOWN`; the code then comes from the HTTP
/// status instead, by google.rpc.Code's HTTP mapping.
pub(super) fn http_error(status: u16, body: &Bytes) -> Error {
    match TryFrom::try_from(body) {
        Ok(parsed) => canonical(Error::service(parsed), status),
        Err(_) => status_error(
            code_for_http(status),
            String::from_utf8_lossy(body).trim().to_owned(),
        ),
    }
}

/// A service error with this canonical code and message.
fn status_error(code: i32, message: String) -> Error {
    let blank = Error::service(Default::default());
    match blank.status() {
        Some(status) => Error::service(status.clone().set_code(code).set_message(message)),
        None => blank,
    }
}

/// `err` with an `UNKNOWN` status replaced by the code of HTTP `status` (see
/// [`http_error`]); google-cloud-storage's own JSON API calls fail this way too.
pub(super) fn canonical(err: Error, status: u16) -> Error {
    match err.status() {
        Some(parsed) if parsed.code.name() == "UNKNOWN" => {
            Error::service(parsed.clone().set_code(code_for_http(status)))
        }
        _ => err,
    }
}

/// [`canonical`] for an error of google-cloud-storage's JSON API client.
pub(super) fn canonical_crate_error(err: Error) -> Error {
    match err.http_status_code() {
        Some(status) => canonical(err, status),
        None => err,
    }
}

/// The canonical code (its number) of an HTTP status: google.rpc.Code's documented HTTP
/// mapping; 409 is `ALREADY_EXISTS` (Cloud Storage answers 409 to an existing bucket).
fn code_for_http(status: u16) -> i32 {
    match status {
        400 => 3,
        401 => 16,
        403 => 7,
        404 => 5,
        409 => 6,
        412 => 9,
        413 | 416 => 11,
        429 => 8,
        499 => 1,
        500 => 13,
        501 => 12,
        503 => 14,
        504 => 4,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::gcp::map_gcp_error;

    fn kind_of(status: u16, body: &str) -> ErrorKind {
        map_gcp_error(
            "storage.objects.get",
            None,
            http_error(status, &Bytes::from(body.to_owned())),
        )
        .kind
    }

    // JSON API status codes page: errors carry the HTTP code and no status name.
    #[test]
    fn json_api_errors_take_their_code_from_http() {
        let missing = r#"{"error":{"code":404,"message":"No such object: b/k","errors":[{"domain":"global","reason":"notFound","message":"No such object: b/k"}]}}"#;
        assert_eq!(kind_of(404, missing), ErrorKind::NotFound);
        let taken = r#"{"error":{"code":409,"message":"A Cloud Storage bucket named 'b' already exists."}}"#;
        assert_eq!(kind_of(409, taken), ErrorKind::AlreadyExists);
        assert_eq!(kind_of(404, "Not Found"), ErrorKind::NotFound);
        assert_eq!(kind_of(429, ""), ErrorKind::Throttled);
        assert!(matches!(
            kind_of(403, r#"{"error":{"code":403,"message":"denied"}}"#),
            ErrorKind::PermissionDenied { .. }
        ));
    }

    // A body with a status name keeps it (AIP-193 error form).
    #[test]
    fn a_status_name_wins_over_the_http_code() {
        let body = r#"{"error":{"code":400,"message":"bad","status":"FAILED_PRECONDITION"}}"#;
        assert_eq!(kind_of(400, body), ErrorKind::PreconditionFailed);
    }
}
