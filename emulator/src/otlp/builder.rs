//! [`SpanBuilder`]: trace events in, finished spans out, one event at a time (the mapping is
//! described in the [module docs](super)). Memory stays bounded: finished spans leave through
//! [`SpanBuilder::take_finished`], and at most `cap` spans are open at once (messages and
//! attempts; more are dropped and counted).

use std::collections::{BTreeSet, HashMap, VecDeque};

use chrono::{DateTime, Utc};
use opentelemetry::trace::{Link, SpanId, SpanKind, TraceId};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::SpanData;

use super::ids::RunKey;
use super::spans::{Draft, context, detail_attributes, scope, typed, work_start};
use crate::engine::{Kind, TraceEvent};

/// Default most open spans (messages in flight plus running attempts).
pub const DEFAULT_OPEN_CAP: usize = 100_000;

/// The `to` of a delivery the app pulls through its queue binding (engine/queue_binding.rs):
/// no worker reports an outcome, so the attempt ends at the message's next ack, lease expiry,
/// dead letter or expiry.
const BINDING: &str = "binding";

/// `alien.outcome` of a span still open when the builder finishes.
const STILL_OPEN: &str = "open";

/// (queue, message id).
type MessageKey = (String, String);

/// A message from `sent` until it leaves its queue.
struct OpenMessage {
    seq: u64,
    draft: Draft,
    /// Workers it was delivered to that have not acked it (fan-out: one per subscription).
    pending: BTreeSet<String>,
}

/// A delivery until the worker's outcome.
struct OpenAttempt {
    seq: u64,
    draft: Draft,
}

/// Turns trace events into spans incrementally.
pub struct SpanBuilder {
    run: RunKey,
    scope: InstrumentationScope,
    cap: usize,
    messages: HashMap<MessageKey, OpenMessage>,
    /// By (worker, message id), oldest first (a duplicate delivery runs twice at once).
    attempts: HashMap<(String, String), VecDeque<OpenAttempt>>,
    open_attempts: usize,
    finished: Vec<SpanData>,
    dropped: u64,
    last_at: Option<DateTime<Utc>>,
}

impl SpanBuilder {
    pub fn new(run: RunKey) -> SpanBuilder {
        SpanBuilder::with_cap(run, DEFAULT_OPEN_CAP)
    }

    /// A builder keeping at most `cap` spans open.
    pub fn with_cap(run: RunKey, cap: usize) -> SpanBuilder {
        SpanBuilder {
            run,
            scope: scope(),
            cap,
            messages: HashMap::new(),
            attempts: HashMap::new(),
            open_attempts: 0,
            finished: Vec::new(),
            dropped: 0,
            last_at: None,
        }
    }

    /// Feeds the next trace event (in trace order).
    pub fn push(&mut self, event: &TraceEvent) {
        self.last_at = Some(self.last_at.map_or(event.at, |t| t.max(event.at)));
        let Some(id) = event.subject.as_deref() else {
            return self.standalone(event, None);
        };
        match event.kind {
            Kind::Sent => self.open_message(event, &event.resource, id, None),
            Kind::Delivered => self.open_attempt(event, id),
            Kind::Succeeded | Kind::Failed | Kind::TimedOut | Kind::Crashed => {
                // A worker's outcome ends its attempt; otherwise it was no queue delivery
                // (an HTTP request, a cron fire, a command).
                if !self.close_attempt(&event.resource, id, event) {
                    self.standalone(event, None);
                }
            }
            _ => {
                let ends_pull = match event.kind {
                    Kind::Acked => event.get("by") == Some(BINDING),
                    Kind::LeaseExpired | Kind::DeadLettered | Kind::Expired => true,
                    _ => false,
                };
                if ends_pull {
                    self.close_attempt(BINDING, id, event);
                }
                let key = (event.resource.clone(), id.to_string());
                if self.messages.contains_key(&key) {
                    self.message_event(key, event);
                } else if is_message_kind(event.kind) {
                    // Its message span ended (a stale ack) or was never seen: a short span
                    // of its own, still in the message's trace under the message span.
                    let parent = (self.message_trace(id), self.message_span(&key.0, id));
                    self.standalone(event, Some(parent));
                } else {
                    self.standalone(event, None);
                }
            }
        }
    }

    /// Spans finished since the last call, in the order they ended.
    pub fn take_finished(&mut self) -> Vec<SpanData> {
        std::mem::take(&mut self.finished)
    }

    /// Every span not taken yet: the finished ones, then those still open, ended at the
    /// last event's time with `alien.outcome = "open"`, oldest first. Nothing stays open.
    pub fn finish(&mut self) -> Vec<SpanData> {
        let end = self.last_at.unwrap_or_default();
        let mut open: Vec<(u64, Draft)> = self
            .messages
            .drain()
            .map(|(_, m)| (m.seq, m.draft))
            .chain(
                self.attempts
                    .drain()
                    .flat_map(|(_, queue)| queue.into_iter().map(|a| (a.seq, a.draft))),
            )
            .collect();
        open.sort_by_key(|(seq, _)| *seq);
        for (_, mut draft) in open {
            draft
                .attributes
                .push(KeyValue::new("alien.outcome", STILL_OPEN));
            self.finished.push(draft.end(end, &self.scope));
        }
        self.open_attempts = 0;
        std::mem::take(&mut self.finished)
    }

    /// Spans not opened because `cap` spans were open already.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Spans open now.
    pub fn open(&self) -> usize {
        self.messages.len() + self.open_attempts
    }

    fn message_trace(&self, id: &str) -> TraceId {
        self.run.trace_id(&["message", id])
    }

    fn message_span(&self, queue: &str, id: &str) -> SpanId {
        self.run.span_id(&["message", queue, id])
    }

    /// Room for one more open span; counts a drop when there is none.
    fn room(&mut self) -> bool {
        let room = self.open() < self.cap;
        if !room {
            self.dropped += 1;
        }
        room
    }

    /// `sent` (or a redrive into a dead-letter queue, under `parent`).
    fn open_message(&mut self, event: &TraceEvent, queue: &str, id: &str, parent: Option<SpanId>) {
        let key = (queue.to_string(), id.to_string());
        if self.messages.contains_key(&key) {
            return self.message_event(key, event);
        }
        if !self.room() {
            return;
        }
        let mut draft = Draft::new(
            self.message_trace(id),
            self.message_span(queue, id),
            SpanKind::Producer,
            format!("message {queue}/{id}"),
            event.at,
        );
        draft.parent = parent.unwrap_or(SpanId::INVALID);
        draft.attributes = messaging_attributes(queue, id);
        if event.kind == Kind::Sent {
            draft.attributes.extend(detail_attributes(event, &[]));
        }
        let open = OpenMessage {
            seq: event.seq,
            draft,
            pending: BTreeSet::new(),
        };
        self.messages.insert(key, open);
    }

    /// `delivered`: an attempt span under the message span, linked to it.
    fn open_attempt(&mut self, event: &TraceEvent, id: &str) {
        let queue = event.resource.as_str();
        let worker = event.get("to").unwrap_or("unknown");
        let key = (queue.to_string(), id.to_string());
        if !self.messages.contains_key(&key) {
            // No `sent` in the trace (a storage notification's Pub/Sub message, a trace cut
            // by retention): the message span starts at its first delivery.
            self.open_message(event, queue, id, None);
        }
        if let Some(message) = self.messages.get_mut(&key) {
            message.pending.insert(worker.to_string());
        }
        if !self.room() {
            return;
        }
        let trace_id = self.message_trace(id);
        let message_span = self.message_span(queue, id);
        let mut draft = Draft::new(
            trace_id,
            self.run.span_id(&["attempt", &event.seq.to_string()]),
            SpanKind::Consumer,
            format!("attempt {queue}/{id}"),
            event.at,
        );
        draft.parent = message_span;
        draft
            .links
            .push(Link::with_context(context(trace_id, message_span)));
        draft.attributes = messaging_attributes(queue, id);
        draft
            .attributes
            .push(KeyValue::new("alien.worker", worker.to_string()));
        if let Some(attempt) = event.get("attempt") {
            draft
                .attributes
                .push(KeyValue::new("alien.attempt", typed(attempt)));
        }
        draft
            .attributes
            .extend(detail_attributes(event, &["to", "attempt"]));
        let attempt = OpenAttempt {
            seq: event.seq,
            draft,
        };
        self.attempts
            .entry((worker.to_string(), id.to_string()))
            .or_default()
            .push_back(attempt);
        self.open_attempts += 1;
    }

    /// Ends the oldest open attempt of `worker` on message `id` with `event`'s outcome;
    /// false when there is none.
    fn close_attempt(&mut self, worker: &str, id: &str, event: &TraceEvent) -> bool {
        let key = (worker.to_string(), id.to_string());
        let Some(queue) = self.attempts.get_mut(&key) else {
            return false;
        };
        let Some(OpenAttempt { mut draft, .. }) = queue.pop_front() else {
            return false;
        };
        if queue.is_empty() {
            self.attempts.remove(&key);
        }
        self.open_attempts -= 1;
        draft
            .attributes
            .push(KeyValue::new("alien.outcome", event.kind.as_str()));
        if let Some(error) = event.get("error") {
            draft
                .attributes
                .push(KeyValue::new("alien.error", error.to_string()));
        }
        if event.kind != Kind::Acked {
            draft
                .attributes
                .extend(detail_attributes(event, &["error", "by"]));
        }
        draft.fail_if(event);
        self.finished.push(draft.end(event.at, &self.scope));
        true
    }

    /// Any other event of an open message: a span event on it; `acked` by the last worker
    /// holding it, `dead_lettered` and `expired` end it.
    fn message_event(&mut self, key: MessageKey, event: &TraceEvent) {
        let Some(message) = self.messages.get_mut(&key) else {
            return;
        };
        message.draft.push_event(event);
        let ends = match event.kind {
            Kind::Acked => {
                if let Some(by) = event.get("by") {
                    message.pending.remove(by);
                }
                event.get("by").is_none() || message.pending.is_empty()
            }
            Kind::DeadLettered | Kind::Expired => true,
            _ => false,
        };
        if !ends {
            return;
        }
        let Some(OpenMessage { mut draft, .. }) = self.messages.remove(&key) else {
            return;
        };
        draft
            .attributes
            .push(KeyValue::new("alien.outcome", event.kind.as_str()));
        draft.fail_if(event);
        let span = draft.span_id;
        self.finished.push(draft.end(event.at, &self.scope));
        if let (Kind::DeadLettered, Some(dlq)) = (event.kind, event.get("to")) {
            // Redriven: the same message goes on in the dead-letter queue, same trace.
            self.open_message(event, dlq, &key.1, Some(span));
        }
    }

    /// An event of no open message or attempt: a span of its own, covering the work an
    /// outcome reports (`took`), else an instant. Events about one subject (an HTTP request,
    /// a command, an object) share a trace.
    fn standalone(&mut self, event: &TraceEvent, parent: Option<(TraceId, SpanId)>) {
        let seq = event.seq.to_string();
        let trace_id = match (parent, event.subject.as_deref()) {
            (Some((trace_id, _)), _) => trace_id,
            (None, Some(subject)) => self.run.trace_id(&["subject", &event.resource, subject]),
            (None, None) => self.run.trace_id(&["event trace", &seq]),
        };
        let mut draft = Draft::new(
            trace_id,
            self.run.span_id(&["event", &seq]),
            SpanKind::Internal,
            format!("{} {}", event.kind.as_str(), event.resource),
            work_start(event),
        );
        draft.parent = parent.map_or(SpanId::INVALID, |(_, span)| span);
        draft
            .attributes
            .push(KeyValue::new("alien.resource", event.resource.clone()));
        if let Some(subject) = &event.subject {
            draft
                .attributes
                .push(KeyValue::new("alien.subject", subject.clone()));
        }
        draft.attributes.extend(detail_attributes(event, &[]));
        draft.fail_if(event);
        self.finished.push(draft.end(event.at, &self.scope));
    }
}

/// Queue events whose resource is a queue and whose subject is a message id.
fn is_message_kind(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Sent
            | Kind::Rejected
            | Kind::Delivered
            | Kind::Acked
            | Kind::AckStale
            | Kind::LeaseExpired
            | Kind::PushBackoff
            | Kind::DeadLettered
            | Kind::Expired
    )
}

/// OpenTelemetry messaging semantic conventions: destination and message id.
fn messaging_attributes(queue: &str, id: &str) -> Vec<KeyValue> {
    vec![
        KeyValue::new("messaging.destination.name", queue.to_string()),
        KeyValue::new("messaging.message.id", id.to_string()),
    ]
}
