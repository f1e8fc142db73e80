//! The commands API (arc.v1) of `alien emulate`: upstream's manager routes over the engine
//! (upstream-runtime-and-bindings.md §5.1–§5.6; published-3.3.49.md §10), mounted at the root
//! of the loopback control listener.
//!
//! | Route | Who | Reply |
//! |---|---|---|
//! | `POST /commands` | operator | `CreateCommandResponse` · 400 · 404 unknown target or deployment |
//! | `GET /commands/{id}` | operator | `CommandStatusResponse` · 404 |
//! | `POST /commands/leases` | receiver (bearer) | `LeaseResponse` · 400 · 401 · 404 |
//! | `POST /commands/leases/{leaseId}/release` | receiver (bearer) | 200 · 401 · 404 · 409 ended |
//! | `PUT /commands/{id}/response` | receiver (bearer or response token) | 200 · 400 · 401 · 404 · 409 · 410 |
//!
//! Auth: lease and release need `Authorization: Bearer <token>` (the daemon's
//! `ALIEN_COMMANDS_TOKEN`). A response needs that header or the `response_token` of the
//! `submitResponseUrl` the lease handed out: upstream's receivers PUT that signed URL without
//! a header (§5.4). Create and status are the operator's side; under `alien emulate` the CLI
//! calls them over the loopback control listener, so they take no token, like the rest of
//! the control API.
//!
//! Lease-served envelopes carry root-relative URLs (`/commands/{id}/response?…`), which
//! receivers resolve against the origin they leased from (§5.2). Params over 150,000 bytes
//! travel as `storage` bodies with `local` presigned requests into the payload directory;
//! so do large responses (`<payload_dir>/<commandId>/{params,response}`). Storage-mode *creates* (upstream's upload flow,
//! `PENDING_UPLOAD` and `upload-complete`) are not served: any size may be sent inline.
//! Deadlines, leases and expirations are in the engine's (virtual) time. Every change is on
//! disk before it is answered (with a store) and calls the configured wake-up so the
//! real-time driver runs the timers it armed. Payload files are read and written off the
//! async runtime.

pub mod base64;
mod client;
mod error;
mod payloads;
mod routes;
mod wire;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post, put};
use rand::TryRngCore;
use rand::rngs::OsRng;

use super::state::EngineHandle;
use super::state::store::StoreError;
use crate::engine::Sim;
pub use client::{CommandsClient, CommandsClientError};
use error::ApiError;
use payloads::Payloads;
use routes::{create, lease, release, status, submit};

/// Largest request body: 16 MiB (an emulator choice; upstream documents none). Inline
/// params of about 12 MB fit.
pub const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Called after every change, e.g. the driver's `wake`.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// What the API needs besides the engine.
#[derive(Clone)]
pub struct CommandsApiConfig {
    /// `ALIEN_DEPLOYMENT_ID`: requests naming another deployment get 404.
    pub deployment_id: String,
    /// `ALIEN_COMMANDS_TOKEN` of the receivers.
    pub token: String,
    /// Where bodies over the inline limit are written.
    pub payload_dir: PathBuf,
    pub wake: Wake,
}

#[derive(Clone)]
struct CommandsApi {
    engine: EngineHandle,
    inner: Arc<Inner>,
}

struct Inner {
    deployment_id: String,
    token: String,
    payloads: Payloads,
    wake: Wake,
    /// The `response_token` of each leased command's `submitResponseUrl`.
    response_tokens: Mutex<HashMap<String, String>>,
}

/// The routes above, over `engine`, ready to merge into the control listener's router.
pub fn router(engine: impl Into<EngineHandle>, config: CommandsApiConfig) -> Router {
    let engine = engine.into();
    let inline_max = engine.lock().profile().commands.inline_max_bytes.value;
    let api = CommandsApi {
        engine,
        inner: Arc::new(Inner {
            deployment_id: config.deployment_id,
            token: config.token,
            payloads: Payloads::new(config.payload_dir, inline_max),
            wake: config.wake,
            response_tokens: Mutex::new(HashMap::new()),
        }),
    };
    Router::new()
        .route("/commands", post(create))
        .route("/commands/leases", post(lease))
        .route("/commands/leases/{lease_id}/release", post(release))
        .route("/commands/{command_id}", get(status))
        .route("/commands/{command_id}/response", put(submit))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(api)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl CommandsApi {
    fn sim(&self) -> MutexGuard<'_, Sim> {
        self.engine.lock()
    }

    /// Runs `op` on the engine; answers once its changes are on disk.
    async fn apply<T>(&self, op: impl FnOnce(&mut Sim) -> T) -> Result<T, ApiError> {
        self.engine.apply(op).await.map_err(stored)
    }

    /// Runs blocking payload-file work off the async runtime.
    async fn payload_io<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Payloads) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || work(&inner.payloads))
            .await
            .map_err(|e| ApiError::internal(format!("payload file task: {e}")))?
    }

    fn wake(&self) {
        (self.inner.wake)();
    }

    fn check_deployment(&self, deployment_id: &str) -> Result<(), ApiError> {
        if deployment_id == self.inner.deployment_id {
            return Ok(());
        }
        Err(ApiError::new(
            "DEPLOYMENT_NOT_FOUND",
            format!(
                "deploymentId: '{deployment_id}' is not this deployment ('{}')",
                self.inner.deployment_id
            ),
        ))
    }

    fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        match bearer(headers) {
            Some(token) if same(token, &self.inner.token) => Ok(()),
            _ => Err(ApiError::unauthorized()),
        }
    }

    /// The bearer token, or the `response_token` of this command's response URL.
    fn authorize_response(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
        command_id: &str,
    ) -> Result<(), ApiError> {
        let given = query.and_then(|q| {
            q.split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(key, _)| *key == "response_token")
                .map(|(_, value)| value)
        });
        let tokens = lock(&self.inner.response_tokens);
        let signed = given
            .zip(tokens.get(command_id))
            .is_some_and(|(given, issued)| same(given, issued));
        if signed {
            return Ok(());
        }
        self.authorize(headers)
    }

    /// The `response_token` of `command_id` (one per command, kept across leases).
    fn response_token(&self, command_id: &str) -> Result<String, ApiError> {
        let mut tokens = lock(&self.inner.response_tokens);
        if let Some(token) = tokens.get(command_id) {
            return Ok(token.clone());
        }
        let mut bytes = [0_u8; 32];
        OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| ApiError::internal(format!("cannot generate a response token: {e}")))?;
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        tokens.insert(command_id.to_string(), token.clone());
        Ok(token)
    }
}

fn stored(err: StoreError) -> ApiError {
    ApiError::internal(err.to_string())
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares credentials in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0, |diff, (x, y)| diff | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests;
