//! Virtual time for deterministic simulation.

use super::{Clock, ClockError, Fired, TimerId, TimerQueue, add};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// A clock that starts at a given instant and moves only when told, with the timers that
/// are due against it.
///
/// Time never moves backward: [`advance_to`](Self::advance_to) an earlier instant leaves
/// the clock where it is (and still fires the timers due then).
///
/// Two ways to move time:
/// - [`advance_by`](Self::advance_by), [`advance_to`](Self::advance_to) and
///   [`advance_to_next_timer`](Self::advance_to_next_timer) jump and return every timer due
///   at the new instant, in firing order. `now` is the new instant, not each timer's deadline.
/// - [`run_until_idle`](Self::run_until_idle) and [`run_until`](Self::run_until) fire timers
///   one at a time, with `now` set to each timer's deadline, and hand each to a handler that
///   may schedule or cancel more. This is the engine's event loop.
#[derive(Debug, Clone)]
pub struct VirtualClock<K> {
    now: DateTime<Utc>,
    timers: TimerQueue<K>,
}

impl<K> VirtualClock<K> {
    /// A clock at `start` with no timers.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: start,
            timers: TimerQueue::new(),
        }
    }

    /// The current virtual instant.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The pending timers.
    pub fn timers(&self) -> &TimerQueue<K> {
        &self.timers
    }

    /// Schedules `key` at `at`. A deadline at or before `now` is due at the next pop or advance.
    pub fn schedule_at(&mut self, at: DateTime<Utc>, key: K) -> TimerId {
        self.timers.schedule_at(at, key)
    }

    /// Schedules `key` at `now + delay`.
    pub fn schedule_in(&mut self, delay: Duration, key: K) -> TimerId {
        self.timers.schedule_at(add(self.now, delay), key)
    }

    /// Cancels a pending timer. Returns `false` if it already fired or was cancelled.
    pub fn cancel(&mut self, id: TimerId) -> bool {
        self.timers.cancel(id)
    }

    /// The earliest pending deadline (possibly before `now`), or `None` when idle.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        self.timers.next_deadline()
    }

    /// Returns the timers due at `now` without moving time.
    pub fn pop_due(&mut self) -> Vec<Fired<K>> {
        self.timers.pop_due(self.now)
    }

    /// Moves time forward by `d` and returns the timers due at the new instant.
    pub fn advance_by(&mut self, d: Duration) -> Vec<Fired<K>> {
        self.advance_to(add(self.now, d))
    }

    /// Moves time to `t` and returns the timers due then. If `t` is before `now`, time stays
    /// at `now` (it never moves backward); timers due at `now` are still returned.
    pub fn advance_to(&mut self, t: DateTime<Utc>) -> Vec<Fired<K>> {
        self.now = self.now.max(t);
        self.timers.pop_due(self.now)
    }

    /// Jumps to the earliest pending deadline (staying at `now` if it is already past) and
    /// returns the timers due then. `None` when no timer is pending.
    pub fn advance_to_next_timer(&mut self) -> Option<Vec<Fired<K>>> {
        let next = self.timers.next_deadline()?;
        Some(self.advance_to(next))
    }

    /// Pops the earliest timer whose deadline is at or before `until`, moving `now` to its
    /// deadline (never backward). The engine's event loop: it handles each timer with full
    /// access to its own state, so a handler may cancel timers due at the same instant.
    pub fn pop_next(&mut self, until: DateTime<Utc>) -> Option<Fired<K>> {
        let next = self.timers.next_deadline().filter(|d| *d <= until)?;
        self.now = self.now.max(next);
        self.timers.pop_next_due(self.now)
    }

    /// Fires timers one at a time until none is pending, moving `now` to each deadline
    /// before calling `handler`, which may schedule or cancel timers. Returns how many fired.
    ///
    /// Fails with [`ClockError::StepLimit`] when `max_steps` timers have fired and another is
    /// pending; time is then left at the last fired timer.
    pub fn run_until_idle(
        &mut self,
        max_steps: usize,
        handler: impl FnMut(&mut Self, Fired<K>),
    ) -> Result<usize, ClockError> {
        self.run(None, max_steps, handler)
    }

    /// Like [`run_until_idle`](Self::run_until_idle), but fires only timers with deadlines at
    /// or before `until`, then moves time to `until` (if it is not already later).
    pub fn run_until(
        &mut self,
        until: DateTime<Utc>,
        max_steps: usize,
        handler: impl FnMut(&mut Self, Fired<K>),
    ) -> Result<usize, ClockError> {
        let fired = self.run(Some(until), max_steps, handler)?;
        self.now = self.now.max(until);
        Ok(fired)
    }

    fn run(
        &mut self,
        until: Option<DateTime<Utc>>,
        max_steps: usize,
        mut handler: impl FnMut(&mut Self, Fired<K>),
    ) -> Result<usize, ClockError> {
        let mut fired = 0;
        while let Some(next) = self
            .timers
            .next_deadline()
            .filter(|&next| until.is_none_or(|until| next <= until))
        {
            if fired == max_steps {
                return Err(ClockError::StepLimit { max_steps });
            }
            self.now = self.now.max(next);
            if let Some(timer) = self.timers.pop_next_due(self.now) {
                handler(self, timer);
                fired += 1;
            }
        }
        Ok(fired)
    }
}

impl<K: Send + Sync> Clock for VirtualClock<K> {
    fn now(&self) -> DateTime<Utc> {
        self.now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + TimeDelta::seconds(secs)
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn keys<K: Copy>(fired: &[Fired<K>]) -> Vec<K> {
        fired.iter().map(|f| f.key).collect()
    }

    #[test]
    fn advance_by_moves_time_and_fires_due_timers_in_order() {
        let mut c = VirtualClock::new(t(0));
        c.schedule_at(t(30), "c");
        c.schedule_at(t(10), "a");
        c.schedule_at(t(10), "b");
        assert!(c.advance_by(secs(9)).is_empty());
        assert_eq!(c.now(), t(9));
        assert_eq!(keys(&c.advance_by(secs(20))), ["a", "b"]);
        assert_eq!(c.now(), t(29));
        assert_eq!(keys(&c.advance_by(secs(1))), ["c"]);
        assert_eq!(c.now(), t(30));
    }

    #[test]
    fn a_twelve_hour_lease_expires_without_waiting() {
        let mut c = VirtualClock::new(t(0));
        c.schedule_in(secs(12 * 3600), "lease expired");
        let fired = c.advance_to_next_timer().expect("a timer is pending");
        assert_eq!(keys(&fired), ["lease expired"]);
        assert_eq!(c.now(), t(12 * 3600));
    }

    #[test]
    fn advance_to_the_past_does_not_move_time() {
        let mut c = VirtualClock::new(t(100));
        c.schedule_at(t(100), "now");
        c.schedule_at(t(150), "later");
        assert_eq!(keys(&c.advance_to(t(50))), ["now"]);
        assert_eq!(c.now(), t(100));
    }

    #[test]
    fn timers_in_the_past_are_due_immediately() {
        let mut c = VirtualClock::new(t(100));
        c.schedule_at(t(90), "late");
        c.schedule_in(Duration::ZERO, "now");
        assert_eq!(c.next_deadline(), Some(t(90)));
        assert_eq!(keys(&c.pop_due()), ["late", "now"]);
        assert_eq!(c.now(), t(100));

        c.schedule_at(t(1), "very late");
        assert_eq!(keys(&c.advance_by(Duration::ZERO)), ["very late"]);
    }

    #[test]
    fn advance_to_next_timer_fires_all_ties_and_never_goes_back() {
        let mut c = VirtualClock::new(t(100));
        assert_eq!(c.advance_to_next_timer(), None);
        c.schedule_at(t(120), 1);
        c.schedule_at(t(120), 2);
        c.schedule_at(t(130), 3);
        assert_eq!(keys(&c.advance_to_next_timer().unwrap()), [1, 2]);
        assert_eq!(c.now(), t(120));
        c.schedule_at(t(5), 4);
        assert_eq!(keys(&c.advance_to_next_timer().unwrap()), [4]);
        assert_eq!(c.now(), t(120));
        assert_eq!(keys(&c.advance_to_next_timer().unwrap()), [3]);
        assert_eq!(c.advance_to_next_timer(), None);
    }

    #[test]
    fn cancelled_timers_do_not_fire() {
        let mut c = VirtualClock::new(t(0));
        let a = c.schedule_at(t(10), "a");
        c.schedule_at(t(10), "b");
        assert!(c.cancel(a));
        assert_eq!(keys(&c.advance_by(secs(10))), ["b"]);
        assert!(!c.cancel(a));
    }

    #[test]
    fn run_until_idle_processes_rescheduled_work_at_each_deadline() {
        let mut c = VirtualClock::new(t(0));
        c.schedule_at(t(10), 3_u32);
        let mut seen = Vec::new();
        let fired = c
            .run_until_idle(100, |c, timer| {
                seen.push((c.now(), timer.key));
                if timer.key > 0 {
                    c.schedule_in(secs(10), timer.key - 1);
                }
            })
            .unwrap();
        assert_eq!(fired, 4);
        assert_eq!(seen, [(t(10), 3), (t(20), 2), (t(30), 1), (t(40), 0)]);
        assert_eq!(c.now(), t(40));
        assert!(c.timers().is_empty());
    }

    #[test]
    fn run_until_idle_keeps_fifo_for_work_scheduled_at_now() {
        let mut c = VirtualClock::new(t(0));
        c.schedule_at(t(10), "a");
        c.schedule_at(t(10), "b");
        let mut seen = Vec::new();
        c.run_until_idle(100, |c, timer| {
            seen.push(timer.key);
            if timer.key == "a" {
                c.schedule_in(Duration::ZERO, "from a");
            }
        })
        .unwrap();
        assert_eq!(seen, ["a", "b", "from a"]);
    }

    #[test]
    fn run_until_idle_stops_at_the_step_limit() {
        let mut c = VirtualClock::new(t(0));
        c.schedule_at(t(1), ());
        let mut fired = 0;
        let err = c.run_until_idle(5, |c, _| {
            fired += 1;
            c.schedule_in(secs(1), ());
        });
        assert_eq!(err, Err(ClockError::StepLimit { max_steps: 5 }));
        assert_eq!(fired, 5);
        assert_eq!(c.now(), t(5));
    }

    #[test]
    fn run_until_idle_may_use_exactly_its_step_budget() {
        let mut c = VirtualClock::new(t(0));
        c.schedule_at(t(1), ());
        c.schedule_at(t(2), ());
        assert_eq!(c.run_until_idle(2, |_, _| {}), Ok(2));
        assert_eq!(c.run_until_idle(0, |_, _| {}), Ok(0));
    }

    #[test]
    fn run_until_fires_a_recurring_timer_up_to_the_limit_then_moves_there() {
        let mut c = VirtualClock::new(t(0));
        c.schedule_in(secs(60), "minutely");
        let fired = c
            .run_until(t(3600 + 30), 1000, |c, timer| {
                assert_eq!(c.now(), timer.at);
                c.schedule_at(timer.at + TimeDelta::seconds(60), timer.key);
            })
            .unwrap();
        assert_eq!(fired, 60);
        assert_eq!(c.now(), t(3630));
        assert_eq!(c.next_deadline(), Some(t(3660)));
    }

    #[test]
    fn run_until_in_the_past_fires_due_timers_without_moving_time() {
        let mut c = VirtualClock::new(t(100));
        c.schedule_at(t(50), "late");
        let mut seen = Vec::new();
        let fired = c.run_until(t(60), 10, |c, timer| seen.push((c.now(), timer.key)));
        assert_eq!(fired, Ok(1));
        assert_eq!(seen, [(t(100), "late")]);
        assert_eq!(c.now(), t(100));
    }

    #[test]
    fn is_a_clock() {
        let c = VirtualClock::<()>::new(t(42));
        let clock: &dyn Clock = &c;
        assert_eq!(clock.now(), t(42));
    }
}
