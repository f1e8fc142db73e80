//! Error replies: a status and `{code, message}` as upstream's command server sends them
//! (alien-commands `ErrorResponse`; codes and statuses: `INVALID_*` 400, `*_NOT_FOUND` 404,
//! `CONFLICT` 409, `COMMAND_EXPIRED` 410). Receivers count 409 and 410 as success
//! (upstream-runtime-and-bindings.md §5.4, §5.5).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A refused request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: &'static str,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// A malformed or invalid request body; `field` is the JSON path at fault.
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
        ApiError::new("INVALID_REQUEST", format!("{field}: {message}"))
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            "UNAUTHORIZED",
            "missing or wrong credential: send `Authorization: Bearer <ALIEN_COMMANDS_TOKEN>` \
             (or the response URL's response_token)",
        )
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new("INTERNAL", message)
    }

    pub fn status(&self) -> StatusCode {
        match self.code {
            "UNAUTHORIZED" => StatusCode::UNAUTHORIZED,
            "CONFLICT" => StatusCode::CONFLICT,
            "COMMAND_EXPIRED" => StatusCode::GONE,
            "PAYLOAD_TOO_LARGE" => StatusCode::PAYLOAD_TOO_LARGE,
            "INTERNAL" => StatusCode::INTERNAL_SERVER_ERROR,
            code if code.ends_with("_NOT_FOUND") => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            code: self.code,
            message: &self.message,
        };
        let mut response = (self.status(), Json(body)).into_response();
        if self.status() == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// alien-commands `ErrorResponse` status mapping; receivers treat 409/410 as done (§5.4).
    #[test]
    fn statuses_follow_the_code() {
        let cases = [
            ("INVALID_COMMAND", 400),
            ("INVALID_STATE_TRANSITION", 400),
            ("INVALID_REQUEST", 400),
            ("COMMAND_NOT_FOUND", 404),
            ("LEASE_NOT_FOUND", 404),
            ("TARGET_NOT_FOUND", 404),
            ("CONFLICT", 409),
            ("COMMAND_EXPIRED", 410),
            ("UNAUTHORIZED", 401),
            ("PAYLOAD_TOO_LARGE", 413),
            ("INTERNAL", 500),
        ];
        for (code, status) in cases {
            assert_eq!(ApiError::new(code, "m").status().as_u16(), status, "{code}");
        }
    }
}
