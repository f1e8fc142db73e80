//! OTLP export of the trace (`--otlp-endpoint URL` on `alien simulate` and `alien emulate`):
//! trace events become OpenTelemetry spans and span events, sent over OTLP/HTTP (protobuf).
//!
//! # Mapping
//!
//! Times are the events' **virtual** times (`TraceEvent::at`), never wall time. Ids are
//! deterministic ([`ids`]): an MD5 of the run (stack id, platform, seed, scenario) and what
//! the span stands for, so a replay exports the same trace and span ids.
//!
//! | Trace events | Span |
//! |---|---|
//! | `sent` … `acked` / `dead_lettered` / `expired` | `message <queue>/<id>` (kind Producer), root of the message's trace; still open when the export ends: ended at the last event with `alien.outcome = "open"` |
//! | `delivered` … the worker's `succeeded` / `failed` / `timed_out` / `crashed` for that message | `attempt <queue>/<id>` (kind Consumer), child of the message span **and** linked to it; `alien.attempt`, `alien.worker`, `alien.outcome`, `alien.error`; status Error unless it succeeded |
//! | every other event of an open message (`lease_expired` with its `reason`/`cause`, `push_backoff`, `fault`, `ack_stale`…) | a span event on the message span, named after the kind, details as `alien.<key>` attributes |
//! | any other event | a short span of its own, `<kind> <resource>` (kind Internal) |
//!
//! Details of the message and attempt rules:
//! - A message delivered without a `sent` in the trace (a storage notification's Pub/Sub
//!   message, a trace cut by retention) starts its span at the first delivery.
//! - A fanned-out message (one copy per subscription) ends at the ack of the last worker it
//!   was delivered to; `dead_lettered` and `expired` always end it. A redrive into a
//!   dead-letter queue (`dead_lettered … to=<dlq>`) opens `message <dlq>/<id>` in the same
//!   trace, child of the first message span.
//! - A worker's outcome ends its oldest open attempt of that message (a duplicate delivery
//!   runs twice at once). A delivery the app pulls through its queue binding (`to=binding`)
//!   has no worker outcome: it ends at the message's next `acked`, `lease_expired`,
//!   `dead_lettered` or `expired`.
//! - A queue event whose message span has ended or was never seen (a stale ack after the
//!   ack) becomes a short span in the message's trace, under the message span.
//! - Short spans cover the work an outcome reports (`took`, a timeout's `after`) and are
//!   instants otherwise; events about one subject (an HTTP request, a command, an object
//!   key) share a trace. Failures (`failed`, `rejected`, `command_failed`, `daemon_gave_up`…)
//!   have status Error.
//!
//! Each export's resource: `service.name = alien-emulator`, `alien.platform`,
//! `alien.stack.id`, `alien.seed` and, from `alien simulate`, `alien.scenario`.
//!
//! # Parts
//!
//! - [`SpanBuilder`]: the pure part, fed event by event; bounded memory (finished spans leave
//!   it, at most [`DEFAULT_OPEN_CAP`] open spans by default, drops counted).
//! - [`OtlpExporter`]: builds the `SpanData` batches' transport (`opentelemetry-otlp`).
//! - [`TraceFollower`]: `alien emulate`'s background task over the control API's trace.

mod builder;
mod export;
mod follow;
pub mod ids;
mod run;
mod spans;
#[cfg(test)]
mod tests;

pub use builder::{DEFAULT_OPEN_CAP, SpanBuilder};
pub use export::{Endpoint, MAX_BATCH, OtlpError, OtlpExporter};
pub use follow::{FollowReport, TraceFollower};
pub use run::{RunIdentity, SERVICE_NAME};
pub use spans::MAX_EVENTS_PER_SPAN;
