//! Queue messages as the trace shows them, one copy per subscription that holds the message.
//! Competing consumers share one subscription. Pub/Sub fans out instead: each triggered
//! worker gets its own push subscription, and the queue's pull subscription `{queue}-sub`
//! gets a copy too (upstream-cloud-semantics.md §4.2 "Multiple workers on one queue" and
//! §13 item 1).

use std::collections::BTreeMap;

use super::RunView;
use crate::engine::{Kind, TraceEvent};
use crate::profile::ConsumerModel;

/// The subscription that holds a copy.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Holder {
    /// The queue's one subscription, shared by competing consumers.
    Queue,
    /// A triggered worker's own push subscription (fan-out).
    Push(String),
    /// The pull subscription app code reads through its binding (fan-out).
    Pull,
}

/// One copy of one message and what happened to it, in trace order.
#[derive(Debug)]
pub(super) struct MessageCopy<'a> {
    pub queue: &'a str,
    pub message: &'a str,
    pub holder: Holder,
    /// The `sent` event (none for storage events and messages moved by a redrive policy).
    pub sent: Option<&'a TraceEvent>,
    pub deliveries: Vec<&'a TraceEvent>,
    /// Every event of this copy, `sent` and `delivered` included.
    pub events: Vec<&'a TraceEvent>,
    /// The first `acked`, `dead_lettered` or `expired` (retention or purge).
    pub end: Option<&'a TraceEvent>,
}

impl MessageCopy<'_> {
    /// `jobs/m-3`.
    pub fn subject(&self) -> String {
        format!("{}/{}", self.queue, self.message)
    }

    /// Which copy this is, in words, for findings (empty where the queue has one).
    pub fn holder_words(&self) -> String {
        match &self.holder {
            Holder::Queue => String::new(),
            Holder::Push(worker) => format!(
                " (the copy of worker '{worker}''s push subscription {}/{worker})",
                self.queue
            ),
            Holder::Pull => format!(" (the copy of the pull subscription {}-sub)", self.queue),
        }
    }
}

/// Every message copy of the run, in the order the trace first shows them.
pub(super) fn copies<'a>(view: &RunView<'a>) -> Vec<MessageCopy<'a>> {
    let mut ledger = Ledger {
        view,
        fan_out: view.profile.queue.consumers.value == ConsumerModel::FanOut,
        copies: Vec::new(),
        by_message: BTreeMap::new(),
    };
    for event in view.trace {
        ledger.record(event);
    }
    ledger.copies
}

/// The workers whose queue trigger names `queue` in the stack.
pub(super) fn triggered_workers<'s>(view: &RunView<'s>, queue: &str) -> Vec<&'s str> {
    view.stack
        .workers()
        .filter(|(_, w)| w.queue_triggers().any(|q| q.id == queue))
        .map(|(id, _)| id)
        .collect()
}

struct Ledger<'a, 'v> {
    view: &'v RunView<'a>,
    fan_out: bool,
    copies: Vec<MessageCopy<'a>>,
    /// (queue, message) → indices into `copies`.
    by_message: BTreeMap<(&'a str, &'a str), Vec<usize>>,
}

impl<'a> Ledger<'a, '_> {
    fn record(&mut self, e: &'a TraceEvent) {
        let queue = e.resource.as_str();
        let Some(message) = e.subject.as_deref() else {
            if e.kind == Kind::Expired && e.get("reason") == Some("purge") {
                self.purge(e);
            }
            return;
        };
        match e.kind {
            Kind::Sent => {
                for holder in self.holders_at_send(queue) {
                    let c = self.copy(queue, message, holder);
                    self.copies[c].sent = Some(e);
                    self.copies[c].events.push(e);
                }
            }
            Kind::Delivered => {
                let holder = self.consumer(e.get("to"));
                let c = self.copy(queue, message, holder);
                self.copies[c].deliveries.push(e);
                self.copies[c].events.push(e);
            }
            Kind::Acked => {
                let holder = self.consumer(e.get("by"));
                let c = self.copy(queue, message, holder);
                self.end(c, e);
            }
            Kind::Expired => {
                let holder = self.subscription(queue, e.get("subscription"));
                let c = self.copy(queue, message, holder);
                self.end(c, e);
            }
            Kind::PushBackoff => {
                let holder = self.subscription(queue, e.get("subscription"));
                let c = self.copy(queue, message, holder);
                self.copies[c].events.push(e);
            }
            Kind::DeadLettered => {
                let c = self.counted(queue, message, e);
                self.end(c, e);
            }
            Kind::LeaseExpired => {
                let c = self.counted(queue, message, e);
                self.copies[c].events.push(e);
            }
            // A lost ack names the message on its queue; other faults name no message.
            Kind::Fault if self.by_message.contains_key(&(queue, message)) => {
                let c = self.counted(queue, message, e);
                self.copies[c].events.push(e);
            }
            _ => {}
        }
    }

    /// The copies a send makes: one for the queue's subscription, or with fan-out one per
    /// triggered worker (the pull copy is tracked once the binding reads it).
    fn holders_at_send(&self, queue: &str) -> Vec<Holder> {
        if !self.fan_out {
            return vec![Holder::Queue];
        }
        triggered_workers(self.view, queue)
            .into_iter()
            .map(|w| Holder::Push(w.to_string()))
            .collect()
    }

    /// The copy a consumer (`to` / `by`: a worker or `binding`) works on.
    fn consumer(&self, who: Option<&str>) -> Holder {
        match (self.fan_out, who) {
            (false, _) => Holder::Queue,
            (true, Some("binding")) => Holder::Pull,
            (true, Some(worker)) => Holder::Push(worker.to_string()),
            (true, None) => Holder::Queue,
        }
    }

    /// The copy a `subscription` detail names (`jobs`, `jobs-sub`, `jobs/processor`).
    fn subscription(&self, queue: &str, name: Option<&str>) -> Holder {
        let Some(name) = name.filter(|_| self.fan_out) else {
            return Holder::Queue;
        };
        if name.strip_prefix(queue) == Some("-sub") {
            return Holder::Pull;
        }
        match name.strip_prefix(queue).and_then(|r| r.strip_prefix('/')) {
            Some(worker) => Holder::Push(worker.to_string()),
            None => Holder::Queue,
        }
    }

    /// The copy an event without a subscription concerns: preferably a live one, whose
    /// delivery count is the event's `deliveries`, delivered last.
    fn counted(&mut self, queue: &'a str, message: &'a str, e: &TraceEvent) -> usize {
        let count: Option<usize> = e.get("deliveries").and_then(|d| d.parse().ok());
        let known = self.by_message.get(&(queue, message)).cloned();
        let rank = |c: usize| {
            let copy = &self.copies[c];
            (
                copy.end.is_none(),
                Some(copy.deliveries.len()) == count,
                copy.deliveries.last().map(|d| d.seq),
            )
        };
        match known.into_iter().flatten().max_by_key(|&c| rank(c)) {
            Some(c) => c,
            None => self.copy(queue, message, Holder::Queue),
        }
    }

    fn copy(&mut self, queue: &'a str, message: &'a str, holder: Holder) -> usize {
        let known = self.by_message.entry((queue, message)).or_default();
        if let Some(&c) = known.iter().find(|&&c| self.copies[c].holder == holder) {
            return c;
        }
        known.push(self.copies.len());
        self.copies.push(MessageCopy {
            queue,
            message,
            holder,
            sent: None,
            deliveries: Vec::new(),
            events: Vec::new(),
            end: None,
        });
        self.copies.len() - 1
    }

    fn end(&mut self, c: usize, e: &'a TraceEvent) {
        let copy = &mut self.copies[c];
        copy.end.get_or_insert(e);
        copy.events.push(e);
    }

    /// A purge deletes every message the queue holds.
    fn purge(&mut self, e: &'a TraceEvent) {
        let held: Vec<usize> = (0..self.copies.len())
            .filter(|&c| self.copies[c].queue == e.resource && self.copies[c].end.is_none())
            .collect();
        for c in held {
            self.end(c, e);
        }
    }
}
