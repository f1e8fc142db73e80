//! The control API's errors: `{"error": message}` (plus the provider's `code` when there is
//! one) with the status naming what went wrong, and the 404/405 fallbacks.

use alien_providers::{ErrorKind, ProviderError};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::emulate::state::buckets::BucketError;
use crate::emulate::state::objects::ObjectError;
use crate::emulate::state::store::StoreError;
use crate::engine::SimError;

/// A 4xx/5xx answer with `{"error": message}` (and the provider's `code` when there is one).
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    message: String,
    code: Option<&'static str>,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            code: None,
        }
    }

    pub(super) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(super) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<SimError> for ApiError {
    fn from(err: SimError) -> ApiError {
        match err {
            SimError::UnknownResource { .. } => ApiError::not_found(err.to_string()),
            SimError::Provider(e) => ApiError::from(e),
            SimError::Invalid(message) => ApiError::bad_request(message),
            SimError::StepLimit(_) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, err.to_string())
            }
        }
    }
}

/// The state file could not be written: the change is not durable, so it is not confirmed.
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, err.to_string())
    }
}

impl From<ObjectError> for ApiError {
    fn from(err: ObjectError) -> ApiError {
        match err {
            ObjectError::Engine(e) => e.into(),
            ObjectError::Store(e) => e.into(),
            ObjectError::Bucket(e @ BucketError::UnknownBucket(_)) => {
                ApiError::not_found(e.to_string())
            }
            ObjectError::Bucket(e @ BucketError::InvalidKey { .. }) => {
                ApiError::bad_request(e.to_string())
            }
            ObjectError::Bucket(e @ BucketError::Io { .. }) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
            ObjectError::Task(message) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message),
        }
    }
}

impl From<ProviderError> for ApiError {
    fn from(err: ProviderError) -> ApiError {
        let status = match err.kind {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::InvalidArgument | ErrorKind::Unsupported => StatusCode::BAD_REQUEST,
            ErrorKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ErrorKind::AlreadyExists | ErrorKind::StaleReceipt => StatusCode::CONFLICT,
            ErrorKind::Throttled => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::PermissionDenied { .. } => StatusCode::FORBIDDEN,
            ErrorKind::Timeout | ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            status,
            code: Some(err.code()),
            message: err.message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if let Some(code) = self.code {
            body["code"] = json!(code);
        }
        (self.status, axum::Json(body)).into_response()
    }
}

pub(super) type ApiResult<T> = Result<T, ApiError>;

pub(super) async fn no_route(request: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route for {} {}",
        request.method(),
        request.uri().path()
    ))
}

pub(super) async fn wrong_method(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "method {} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
}
