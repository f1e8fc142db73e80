//! The pieces of an exported span: a [`Draft`] grows while its span is open and becomes a
//! [`SpanData`] when it ends; trace details become `alien.<key>` attributes.

use std::borrow::Cow;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use crate::engine::TraceEvent;
use crate::engine::duration_serde::parse_duration;

/// Most span events one span keeps (a poison message redelivered for days); later ones are
/// counted in the span's dropped-events count. The SDK's own default limit is 128.
pub const MAX_EVENTS_PER_SPAN: usize = 1_000;

/// The instrumentation scope of every exported span.
pub fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("alien-emulator")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

/// A span while it is open.
#[derive(Debug)]
pub struct Draft {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// [`SpanId::INVALID`] for a root span.
    pub parent: SpanId,
    pub kind: SpanKind,
    pub name: String,
    pub start: DateTime<Utc>,
    pub attributes: Vec<KeyValue>,
    pub links: Vec<Link>,
    pub status: Status,
    events: Vec<Event>,
    dropped_events: u32,
}

impl Draft {
    pub fn new(
        trace_id: TraceId,
        span_id: SpanId,
        kind: SpanKind,
        name: String,
        start: DateTime<Utc>,
    ) -> Draft {
        Draft {
            trace_id,
            span_id,
            parent: SpanId::INVALID,
            kind,
            name,
            start,
            attributes: Vec::new(),
            links: Vec::new(),
            status: Status::Unset,
            events: Vec::new(),
            dropped_events: 0,
        }
    }

    /// Adds `event` as a span event, or counts it as dropped past [`MAX_EVENTS_PER_SPAN`].
    pub fn push_event(&mut self, event: &TraceEvent) {
        if self.events.len() < MAX_EVENTS_PER_SPAN {
            self.events.push(Event::new(
                event.kind.as_str(),
                event.at.into(),
                detail_attributes(event, &[]),
                0,
            ));
        } else {
            self.dropped_events = self.dropped_events.saturating_add(1);
        }
    }

    /// Marks the span failed when `event` is a failure, described by its `error` or
    /// `reason` detail, else by its kind.
    pub fn fail_if(&mut self, event: &TraceEvent) {
        if is_failure(event) {
            let description = event
                .get("error")
                .or_else(|| event.get("reason"))
                .unwrap_or(event.kind.as_str());
            self.status = Status::error(description.to_string());
        }
    }

    /// The finished span, ending at `end`.
    pub fn end(self, end: DateTime<Utc>, scope: &InstrumentationScope) -> SpanData {
        let mut events = SpanEvents::default();
        events.events = self.events;
        events.dropped_count = self.dropped_events;
        let mut links = SpanLinks::default();
        links.links = self.links;
        SpanData {
            span_context: context(self.trace_id, self.span_id),
            parent_span_id: self.parent,
            parent_span_is_remote: false,
            span_kind: self.kind,
            name: Cow::Owned(self.name),
            start_time: SystemTime::from(self.start),
            end_time: SystemTime::from(end.max(self.start)),
            attributes: self.attributes,
            dropped_attributes_count: 0,
            events,
            links,
            status: self.status,
            instrumentation_scope: scope.clone(),
        }
    }
}

/// A sampled, local span context.
pub fn context(trace_id: TraceId, span_id: SpanId) -> SpanContext {
    SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    )
}

/// `alien.<key>` for each detail of `event` but those in `skip`; integers stay integers.
pub fn detail_attributes(event: &TraceEvent, skip: &[&str]) -> Vec<KeyValue> {
    event
        .detail
        .iter()
        .filter(|(key, _)| !skip.contains(&key.as_str()))
        .map(|(key, value)| KeyValue::new(format!("alien.{key}"), typed(value)))
        .collect()
}

/// An integer attribute when `value` is one, else a string.
pub fn typed(value: &str) -> Value {
    value
        .parse::<i64>()
        .map_or_else(|_| Value::from(value.to_string()), Value::from)
}

/// When the work an outcome event reports began: `took` (or a timeout's `after`) before it.
pub fn work_start(event: &TraceEvent) -> DateTime<Utc> {
    event
        .get("took")
        .or_else(|| event.get("after"))
        .and_then(|text| parse_duration(text).ok())
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .map_or(event.at, |d| event.at - d)
}

/// Events that report something going wrong: the span gets status Error (an HTTP response
/// counts from status 500, as the OpenTelemetry HTTP conventions set it on server spans).
fn is_failure(event: &TraceEvent) -> bool {
    use crate::engine::Kind::*;
    if event.kind == HttpResponse {
        return event
            .get("status")
            .and_then(|s| s.parse::<u16>().ok())
            .is_some_and(|status| status >= 500);
    }
    matches!(
        event.kind,
        Failed
            | TimedOut
            | Crashed
            | Rejected
            | LeaseExpired
            | DeadLettered
            | Expired
            | KvRejected
            | CommandFailed
            | CommandExpired
            | DaemonGaveUp
            | DaemonRefused
    )
}
