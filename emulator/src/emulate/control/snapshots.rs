//! Snapshot routes ([`crate::emulate::state::snapshot`]): `POST /snapshots` takes one at the
//! store's next commit point and answers once it is on disk and in place; `GET /snapshots`
//! lists them. Restoring and forking are offline (`alien ctl snapshot restore|fork`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::ControlState;
use super::error::{ApiError, ApiResult};
use super::wire::json_body;
use crate::emulate::state::objects::Objects;
use crate::emulate::state::snapshot::{self, SnapshotError, SnapshotInfo};

/// `POST /snapshots` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SaveBody {
    name: String,
    #[serde(default)]
    force: bool,
}

impl From<SnapshotError> for ApiError {
    fn from(err: SnapshotError) -> ApiError {
        let status = match err {
            SnapshotError::InvalidName { .. } | SnapshotError::NoStateDir => {
                StatusCode::BAD_REQUEST
            }
            SnapshotError::Exists(_) | SnapshotError::TargetNotEmpty(_) => StatusCode::CONFLICT,
            SnapshotError::NotFound { .. } => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, err.to_string())
    }
}

pub(super) async fn save(
    State(state): State<ControlState>,
    body: Bytes,
) -> ApiResult<(StatusCode, axum::Json<SnapshotInfo>)> {
    let body: SaveBody = json_body(&body)?;
    let buckets = match &state.inner.objects {
        Objects::Dirs(dirs) => Some(dirs.clone()),
        Objects::Engine => None,
    };
    let info = snapshot::save(state.engine(), buckets, &body.name, body.force).await?;
    Ok((StatusCode::CREATED, axum::Json(info)))
}

pub(super) async fn list(
    State(state): State<ControlState>,
) -> ApiResult<axum::Json<Vec<SnapshotInfo>>> {
    let store = state.engine().store().ok_or(SnapshotError::NoStateDir)?;
    let dir = store.state_dir().to_path_buf();
    let listed = tokio::task::spawn_blocking(move || snapshot::list(&dir))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("listing snapshots failed: {e}"),
            )
        })??;
    Ok(axum::Json(listed))
}
