//! What each operation changed, for a durable store (`alien emulate`, design.md "State and
//! durability"): engine code marks the keys it touches; [`Sim::take_changes`] reads their
//! current values into a [`ChangeSet`] of rows: upserts, deletes and appended events. One
//! operation yields O(1) rows whatever the amount of state, and nothing is marked unless a
//! store asked for it ([`Sim::track_changes`]), so `alien simulate` pays nothing.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::commands::CommandRecord;
use super::kv::KvRow;
use super::sim::Sim;
use super::state::{CronState, DeadLetterState, ObjectState};
use super::state::{MessageState, dead_letter_state};
use super::trace::TraceEvent;

/// Keys touched since the last take; their values are read when the changes are taken.
#[derive(Debug, Default)]
pub(crate) struct Dirty {
    messages: BTreeSet<(usize, usize, u64)>,
    /// Queues with dead letters not taken yet, and how many of each queue's were taken.
    dead_letters: BTreeSet<usize>,
    dead_letters_taken: BTreeMap<usize, usize>,
    objects: BTreeSet<(String, String)>,
    kv: BTreeSet<(String, String)>,
    kv_versions: BTreeSet<String>,
    crons: BTreeSet<usize>,
    commands: BTreeSet<usize>,
}

/// One row to write: the entity's state now, or its removal.
#[derive(Debug, Clone, PartialEq)]
pub enum Row<K, V> {
    Upsert(K, V),
    Delete(K),
}

/// A queue message's identity in a store: queue, subscription and position.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MessageKey {
    pub queue: String,
    pub subscription: String,
    pub seq: u64,
}

/// A dead letter appended to its queue's list at `pos`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetterRow {
    pub queue: String,
    pub pos: u64,
    pub dead_letter: DeadLetterState,
}

/// The engine's clock and id counter, written with every change set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockRow {
    /// The engine's instant when the changes were taken.
    pub now: DateTime<Utc>,
    pub counter: u64,
    pub trace_start: DateTime<Utc>,
}

/// Everything one or more operations changed, as rows.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeSet {
    pub messages: Vec<Row<MessageKey, MessageState>>,
    pub dead_letters: Vec<DeadLetterRow>,
    /// Keyed by (bucket, key).
    pub objects: Vec<Row<(String, String), ObjectState>>,
    /// Keyed by (store, key).
    pub kv: Vec<Row<(String, String), KvRow>>,
    /// (store, next version).
    pub kv_versions: Vec<(String, u64)>,
    /// (trigger position, state).
    pub crons: Vec<(usize, CronState)>,
    /// (position in creation order, record).
    pub commands: Vec<(usize, CommandRecord)>,
    /// Trace events recorded since the last take, oldest first.
    pub trace: Vec<TraceEvent>,
    pub clock: ClockRow,
}

impl ChangeSet {
    /// Whether nothing but the clock changed.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
            && self.dead_letters.is_empty()
            && self.objects.is_empty()
            && self.kv.is_empty()
            && self.kv_versions.is_empty()
            && self.crons.is_empty()
            && self.commands.is_empty()
            && self.trace.is_empty()
    }

    /// How many rows the set writes (the clock row not counted).
    pub fn rows(&self) -> usize {
        self.messages.len()
            + self.dead_letters.len()
            + self.objects.len()
            + self.kv.len()
            + self.kv_versions.len()
            + self.crons.len()
            + self.commands.len()
            + self.trace.len()
    }
}

impl Sim {
    /// Starts marking changes for [`Sim::take_changes`] and keeps at most about
    /// `trace_window` trace events in memory once taken (the store has the rest).
    pub fn track_changes(&mut self, trace_window: usize) {
        self.dirty = Some(Dirty::default());
        let taken = self.queues.iter().map(|q| q.dead_letters.len()).enumerate();
        if let Some(dirty) = self.dirty.as_mut() {
            dirty.dead_letters_taken = taken.collect();
        }
        self.trace.bound(trace_window);
    }

    /// The rows changed since the last call (or since tracking started).
    pub fn take_changes(&mut self) -> ChangeSet {
        let dirty = self.dirty.take().unwrap_or_default();
        let mut taken = dirty.dead_letters_taken;
        let changes = ChangeSet {
            messages: dirty
                .messages
                .into_iter()
                .map(|(q, s, seq)| self.message_row(q, s, seq))
                .collect(),
            dead_letters: dirty
                .dead_letters
                .into_iter()
                .flat_map(|q| self.new_dead_letters(q, &mut taken))
                .collect(),
            objects: dirty
                .objects
                .into_iter()
                .map(|(bucket, key)| self.object_row(bucket, key))
                .collect(),
            kv: dirty
                .kv
                .into_iter()
                .map(|(store, key)| self.kv_row(store, key))
                .collect(),
            kv_versions: dirty
                .kv_versions
                .into_iter()
                .filter_map(|store| Some((store.clone(), self.kv.get(&store)?.next_version)))
                .collect(),
            crons: dirty
                .crons
                .into_iter()
                .map(|t| (t, self.cron_state(t)))
                .collect(),
            commands: dirty
                .commands
                .into_iter()
                .map(|c| (c, self.command_record(c)))
                .collect(),
            trace: self.trace.take_new(),
            clock: ClockRow {
                now: self.now(),
                counter: self.counter,
                trace_start: self.trace.start().unwrap_or(self.config.start),
            },
        };
        self.dirty = Some(Dirty {
            dead_letters_taken: taken,
            ..Dirty::default()
        });
        changes
    }

    fn message_row(&self, q: usize, s: usize, seq: u64) -> Row<MessageKey, MessageState> {
        let sub = &self.queues[q].subs[s];
        let key = MessageKey {
            queue: self.queues[q].id.clone(),
            subscription: sub.name.clone(),
            seq,
        };
        match sub.msgs.get(&seq) {
            Some(m) => Row::Upsert(key, self.message_state(seq, m)),
            None => Row::Delete(key),
        }
    }

    fn new_dead_letters(&self, q: usize, taken: &mut BTreeMap<usize, usize>) -> Vec<DeadLetterRow> {
        let from = taken.get(&q).copied().unwrap_or(0);
        let all = &self.queues[q].dead_letters;
        taken.insert(q, all.len());
        all.iter()
            .enumerate()
            .skip(from)
            .map(|(pos, d)| DeadLetterRow {
                queue: self.queues[q].id.clone(),
                pos: pos as u64,
                dead_letter: dead_letter_state(d),
            })
            .collect()
    }

    fn object_row(&self, bucket: String, key: String) -> Row<(String, String), ObjectState> {
        match self.buckets.get(&bucket).and_then(|b| b.objects.get(&key)) {
            Some(o) => Row::Upsert((bucket, key.clone()), o.state(&key)),
            None => Row::Delete((bucket, key)),
        }
    }

    fn kv_row(&self, store: String, key: String) -> Row<(String, String), KvRow> {
        match self.kv.get(&store).and_then(|s| s.entries.get(&key)) {
            Some(row) => Row::Upsert((store, key), row.clone()),
            None => Row::Delete((store, key)),
        }
    }

    fn dirty(&mut self) -> Option<&mut Dirty> {
        self.dirty.as_mut()
    }

    pub(crate) fn mark_message(&mut self, q: usize, s: usize, seq: u64) {
        if let Some(d) = self.dirty() {
            d.messages.insert((q, s, seq));
        }
    }

    pub(crate) fn mark_dead_letter(&mut self, q: usize) {
        if let Some(d) = self.dirty() {
            d.dead_letters.insert(q);
        }
    }

    pub(crate) fn mark_object(&mut self, bucket: &str, key: &str) {
        if let Some(d) = self.dirty() {
            d.objects.insert((bucket.to_string(), key.to_string()));
        }
    }

    pub(crate) fn mark_kv(&mut self, store: &str, key: &str) {
        if let Some(d) = self.dirty() {
            d.kv.insert((store.to_string(), key.to_string()));
            d.kv_versions.insert(store.to_string());
        }
    }

    pub(crate) fn mark_cron(&mut self, t: usize) {
        if let Some(d) = self.dirty() {
            d.crons.insert(t);
        }
    }

    pub(crate) fn mark_command(&mut self, c: usize) {
        if let Some(d) = self.dirty() {
            d.commands.insert(c);
        }
    }
}
