//! `GET /trace?after=<seq>&wait=<seconds>`: the long-poll over the trace (or
//! `GET /trace?tail=<n>`: the newest `n` events, where a reader such as the console starts), and
//! [`TraceLine`], the shape of each event it answers with. With a store, only events already
//! on disk are answered (what a reader saw survives a restart); events older than the
//! engine's in-memory window are paged from the state file. One answer carries at most
//! [`TRACE_PAGE`] events: ask again with `after=<last seq>`.

use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio::time::Instant;

use super::ControlState;
use super::error::{ApiError, ApiResult};
use super::wire::percent_decode;
use crate::engine::TraceEvent;

/// Longest `wait` a trace long-poll may ask for; longer values are cut to it so a client
/// never holds a connection for ever.
pub const MAX_TRACE_WAIT: Duration = Duration::from_secs(60);

/// How often a waiting long-poll looks at the trace when nobody calls
/// [`ControlState::notify_trace`] (the real-time driver records events on its own).
const TRACE_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Most events one answer carries.
pub const TRACE_PAGE: usize = 10_000;

/// `GET /trace` query.
#[derive(Debug, Default, PartialEq)]
struct TraceQuery {
    after: Option<u64>,
    /// Only the newest this many events (at most [`TRACE_PAGE`]); excludes `after`.
    tail: Option<u64>,
    wait: Duration,
}

fn trace_query(raw: Option<&str>) -> ApiResult<TraceQuery> {
    let mut query = TraceQuery::default();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value).unwrap_or_else(|| value.to_string());
        match name {
            "after" => {
                query.after = Some(value.parse().map_err(|_| {
                    ApiError::bad_request(format!(
                        "invalid \"after\" '{value}': expected a trace sequence number"
                    ))
                })?);
            }
            "tail" => {
                let n: u64 = value.parse().map_err(|_| {
                    ApiError::bad_request(format!(
                        "invalid \"tail\" '{value}': expected a number of events"
                    ))
                })?;
                query.tail = Some(n.min(TRACE_PAGE as u64));
            }
            "wait" => {
                let seconds: f64 = value
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "invalid \"wait\" '{value}': expected a non-negative number of seconds"
                        ))
                    })?;
                query.wait = Duration::from_secs_f64(seconds.min(MAX_TRACE_WAIT.as_secs_f64()));
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter '{other}': expected \"after\", \"tail\" or \"wait\""
                )));
            }
        }
    }
    if query.after.is_some() && query.tail.is_some() {
        return Err(ApiError::bad_request(
            "give \"after\" or \"tail\", not both",
        ));
    }
    Ok(query)
}

pub(super) async fn trace(
    State(state): State<ControlState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let query = trace_query(raw.as_deref())?;
    let mut first = query.after.map_or(0, |after| after.saturating_add(1));
    let deadline = Instant::now() + query.wait;
    let mut durable = state.engine().durable_trace();
    loop {
        // Registered before looking, so a notification between the look and the wait is kept.
        let changed = state.inner.changed.notified();
        let until = durable.as_mut().map(|rx| *rx.borrow_and_update());
        if let Some(tail) = query.tail {
            let end = until.unwrap_or_else(|| state.sim_lock().trace().next_seq());
            first = end.saturating_sub(tail);
        }
        let events = page(&state, first, until).await?;
        if !events.is_empty() || Instant::now() >= deadline {
            return Ok(axum::Json(events).into_response());
        }
        let wake = deadline.min(Instant::now() + TRACE_POLL_INTERVAL);
        let committed = async {
            match durable.as_mut() {
                Some(rx) => drop(rx.changed().await),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = changed => {}
            () = committed => {}
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}

/// Events with `first <= seq < until` (`until`: the first event not on disk yet; None without
/// a store), at most [`TRACE_PAGE`], from memory or, when older than its window, from disk.
async fn page(state: &ControlState, first: u64, until: Option<u64>) -> ApiResult<Vec<TraceEvent>> {
    let until = until.unwrap_or(u64::MAX);
    let (events, window_start) = {
        let sim = state.sim_lock();
        let all = sim.trace().events();
        let start = all.partition_point(|e| e.seq < first);
        let end = all.partition_point(|e| e.seq < until);
        let events = all[start..end.max(start)]
            .iter()
            .take(TRACE_PAGE)
            .cloned()
            .collect::<Vec<_>>();
        (events, sim.trace().first_seq())
    };
    let Some(reader) = state
        .inner
        .trace_pages
        .clone()
        .filter(|_| first < window_start)
    else {
        return Ok(events);
    };
    tokio::task::spawn_blocking(move || reader.page(first, until, TRACE_PAGE))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(ApiError::from)
}

/// One trace event as the control API sends it (the JSON of `TraceEvent`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TraceLine {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub t_ms: i64,
    pub kind: String,
    pub resource: String,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub detail: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_query_parsing() {
        assert_eq!(trace_query(None).unwrap(), TraceQuery::default());
        let q = trace_query(Some("after=4&wait=1.5")).unwrap();
        assert_eq!(q.after, Some(4));
        assert_eq!(q.wait, Duration::from_millis(1500));
        assert_eq!(trace_query(Some("wait=3600")).unwrap().wait, MAX_TRACE_WAIT);
        assert!(trace_query(Some("after=-1")).is_err());
        assert_eq!(trace_query(Some("tail=5")).unwrap().tail, Some(5));
        assert_eq!(
            trace_query(Some("tail=99999999")).unwrap().tail,
            Some(TRACE_PAGE as u64)
        );
        assert!(trace_query(Some("tail=5&after=1")).is_err());
    }
}
