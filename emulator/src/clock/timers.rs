//! A deterministic timer queue.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// Identifies a scheduled timer. Ids increase in scheduling order and are never reused
/// within one queue, so they double as the FIFO tie-breaker for equal deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(u64);

/// A timer that fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired<K> {
    /// The timer's id, as returned when it was scheduled.
    pub id: TimerId,
    /// The deadline it was scheduled for (may be earlier than the instant it fired at).
    pub at: DateTime<Utc>,
    /// What the scheduler attached to it.
    pub key: K,
}

/// Pending timers, ordered by deadline, then by scheduling order.
///
/// The queue does not know the time: callers pass `now` to [`TimerQueue::pop_due`]. The
/// real-time driver pairs it with a [`ScaledClock`](super::ScaledClock); simulation uses
/// [`VirtualClock`](super::VirtualClock), which owns one.
#[derive(Debug, Clone)]
pub struct TimerQueue<K> {
    next_id: u64,
    queue: BTreeMap<(DateTime<Utc>, TimerId), K>,
    deadlines: BTreeMap<TimerId, DateTime<Utc>>,
}

impl<K> Default for TimerQueue<K> {
    fn default() -> Self {
        Self {
            next_id: 0,
            queue: BTreeMap::new(),
            deadlines: BTreeMap::new(),
        }
    }
}

impl<K> TimerQueue<K> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `key` to fire at `at`. A deadline in the past is due at the next pop.
    pub fn schedule_at(&mut self, at: DateTime<Utc>, key: K) -> TimerId {
        let id = TimerId(self.next_id);
        self.next_id += 1;
        self.queue.insert((at, id), key);
        self.deadlines.insert(id, at);
        id
    }

    /// Cancels a pending timer. Returns `false` if it already fired or was cancelled.
    pub fn cancel(&mut self, id: TimerId) -> bool {
        match self.deadlines.remove(&id) {
            Some(at) => self.queue.remove(&(at, id)).is_some(),
            None => false,
        }
    }

    /// The deadline of a pending timer.
    pub fn deadline(&self, id: TimerId) -> Option<DateTime<Utc>> {
        self.deadlines.get(&id).copied()
    }

    /// The earliest pending deadline, or `None` when no timer is pending.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        self.queue.first_key_value().map(|(&(at, _), _)| at)
    }

    /// Removes and returns the first timer due at `now` (deadline ≤ `now`), if any.
    pub fn pop_next_due(&mut self, now: DateTime<Utc>) -> Option<Fired<K>> {
        let entry = self.queue.first_entry()?;
        let &(at, id) = entry.key();
        if at > now {
            return None;
        }
        let key = entry.remove();
        self.deadlines.remove(&id);
        Some(Fired { id, at, key })
    }

    /// Removes and returns every timer due at `now`, in firing order.
    pub fn pop_due(&mut self, now: DateTime<Utc>) -> Vec<Fired<K>> {
        std::iter::from_fn(|| self.pop_next_due(now)).collect()
    }

    /// The number of pending timers.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + TimeDelta::seconds(secs)
    }

    fn keys<K: Copy>(fired: &[Fired<K>]) -> Vec<K> {
        fired.iter().map(|f| f.key).collect()
    }

    #[test]
    fn pops_by_deadline_then_fifo() {
        let mut q = TimerQueue::new();
        q.schedule_at(t(20), "b1");
        q.schedule_at(t(10), "a");
        q.schedule_at(t(20), "b2");
        q.schedule_at(t(30), "c");
        q.schedule_at(t(20), "b3");
        assert_eq!(q.next_deadline(), Some(t(10)));
        assert_eq!(keys(&q.pop_due(t(20))), ["a", "b1", "b2", "b3"]);
        assert_eq!(q.next_deadline(), Some(t(30)));
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn nothing_due_before_deadline() {
        let mut q = TimerQueue::new();
        q.schedule_at(t(10), ());
        assert!(q.pop_due(t(9)).is_empty());
        assert_eq!(q.pop_next_due(t(9)), None);
        assert_eq!(q.pop_due(t(10)).len(), 1);
        assert!(q.is_empty());
        assert_eq!(q.next_deadline(), None);
    }

    #[test]
    fn fired_carries_id_deadline_and_key() {
        let mut q = TimerQueue::new();
        let id = q.schedule_at(t(5), 7);
        assert_eq!(q.deadline(id), Some(t(5)));
        assert_eq!(
            q.pop_due(t(100)),
            [Fired {
                id,
                at: t(5),
                key: 7
            }]
        );
        assert_eq!(q.deadline(id), None);
    }

    #[test]
    fn cancel_removes_pending_only() {
        let mut q = TimerQueue::new();
        let a = q.schedule_at(t(1), "a");
        let b = q.schedule_at(t(1), "b");
        assert!(q.cancel(a));
        assert!(!q.cancel(a), "second cancel is a no-op");
        assert_eq!(keys(&q.pop_due(t(1))), ["b"]);
        assert!(!q.cancel(b), "a fired timer cannot be cancelled");
        assert!(q.is_empty());
    }

    #[test]
    fn ids_are_not_reused() {
        let mut q = TimerQueue::new();
        let a = q.schedule_at(t(1), ());
        q.cancel(a);
        let b = q.schedule_at(t(1), ());
        assert!(b > a);
    }
}
