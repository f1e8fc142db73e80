//! Properties of the virtual clock and its timers over random operation sequences.

use alien_emulator::clock::{Fired, TimerId, VirtualClock};
use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

fn start() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + TimeDelta::days(20_000)
}

fn after(t: DateTime<Utc>, offset_ms: i64) -> DateTime<Utc> {
    t + TimeDelta::milliseconds(offset_ms)
}

/// One step of a random scenario. Offsets are milliseconds relative to the clock's `now`.
#[derive(Debug, Clone)]
enum Op {
    Schedule {
        offset_ms: i64,
    },
    /// Cancels the `pick`-th timer ever scheduled (modulo the count), fired or not.
    Cancel {
        pick: usize,
    },
    AdvanceBy {
        ms: u64,
    },
    AdvanceTo {
        offset_ms: i64,
    },
    AdvanceToNextTimer,
    /// `run_until(now + ms)` with a handler that schedules one follow-up for some timers.
    RunUntil {
        ms: u64,
    },
}

/// Offsets in `-past_ms..future_ms`: whole seconds (so ties are common) or milliseconds.
fn offset_ms(past_ms: i64, future_ms: i64) -> impl Strategy<Value = i64> {
    prop_oneof![
        (-past_ms / 1000..future_ms / 1000).prop_map(|s| s * 1000),
        -past_ms..future_ms,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let forward = || offset_ms(0, 20_000).prop_map(|ms| ms.unsigned_abs());
    prop_oneof![
        4 => offset_ms(5_000, 30_000).prop_map(|offset_ms| Op::Schedule { offset_ms }),
        1 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        2 => forward().prop_map(|ms| Op::AdvanceBy { ms }),
        1 => offset_ms(5_000, 20_000).prop_map(|offset_ms| Op::AdvanceTo { offset_ms }),
        1 => Just(Op::AdvanceToNextTimer),
        1 => forward().prop_map(|ms| Op::RunUntil { ms }),
    ]
}

/// A timer that fired, and the clock's `now` when it did.
#[derive(Debug, Clone, PartialEq)]
struct Firing {
    timer: Fired<u32>,
    now: DateTime<Utc>,
}

/// Everything observable from running a scenario.
#[derive(Debug, Default, PartialEq)]
struct Trace {
    /// Fired timers, one batch per operation, plus a last batch that drains the queue.
    batches: Vec<Vec<Firing>>,
    /// The result of every cancel, with the index of its operation.
    cancels: Vec<(usize, TimerId, bool)>,
    /// `now` after every operation.
    nows: Vec<DateTime<Utc>>,
    /// Every timer scheduled: its deadline and `now` when it was scheduled.
    scheduled: BTreeMap<TimerId, (DateTime<Utc>, DateTime<Utc>)>,
}

/// Handler keys below this value schedule one follow-up, keyed above it.
const FOLLOW_UP: u32 = 1_000_000;

fn stamp(fired: Vec<Fired<u32>>, now: DateTime<Utc>) -> Vec<Firing> {
    fired
        .into_iter()
        .map(|timer| Firing { timer, now })
        .collect()
}

/// Runs `ops`, then advances an hour past the last `now` (beyond every deadline).
fn run(ops: &[Op]) -> Trace {
    let mut clock = VirtualClock::new(start());
    let mut trace = Trace::default();
    let mut ids = Vec::new();
    for (n, op) in ops.iter().enumerate() {
        let key = u32::try_from(n).unwrap();
        let batch = match *op {
            Op::Schedule { offset_ms } => {
                let at = after(clock.now(), offset_ms);
                let id = clock.schedule_at(at, key);
                trace.scheduled.insert(id, (at, clock.now()));
                ids.push(id);
                Vec::new()
            }
            Op::Cancel { pick } => {
                if let Some(&id) = ids.get(pick % ids.len().max(1)) {
                    trace.cancels.push((n, id, clock.cancel(id)));
                }
                Vec::new()
            }
            Op::AdvanceBy { ms } => {
                let fired = clock.advance_by(Duration::from_millis(ms));
                stamp(fired, clock.now())
            }
            Op::AdvanceTo { offset_ms } => {
                let fired = clock.advance_to(after(clock.now(), offset_ms));
                stamp(fired, clock.now())
            }
            Op::AdvanceToNextTimer => {
                let fired = clock.advance_to_next_timer().unwrap_or_default();
                stamp(fired, clock.now())
            }
            Op::RunUntil { ms } => {
                let until = after(clock.now(), i64::try_from(ms).unwrap());
                let mut batch = Vec::new();
                let scheduled = &mut trace.scheduled;
                clock
                    .run_until(until, 10_000, |c, timer| {
                        if timer.key < FOLLOW_UP && timer.key % 3 == 0 {
                            let delay = Duration::from_secs(u64::from(timer.key % 5));
                            let id = c.schedule_in(delay, timer.key + FOLLOW_UP);
                            let at = c.timers().deadline(id).unwrap();
                            scheduled.insert(id, (at, c.now()));
                        }
                        batch.push(Firing {
                            timer,
                            now: c.now(),
                        });
                    })
                    .unwrap();
                batch
            }
        };
        trace.batches.push(batch);
        trace.nows.push(clock.now());
        let moved_time = !matches!(op, Op::Schedule { .. } | Op::Cancel { .. });
        if let Some(next) = clock.next_deadline().filter(|_| moved_time) {
            assert!(
                next > clock.now(),
                "after {op:?}, a timer due at {next} is pending"
            );
        }
    }
    let end = after(clock.now(), 3_600_000);
    trace.batches.push(stamp(clock.advance_to(end), end));
    trace.nows.push(clock.now());
    assert_eq!(clock.next_deadline(), None);
    trace
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// (1) Timers fire by deadline then FIFO, never before their deadline, and in the order
    /// they became due; (2) time never goes backward.
    #[test]
    fn firings_are_ordered_and_time_is_monotonic(ops in prop::collection::vec(op(), 0..60)) {
        let trace = run(&ops);
        prop_assert!(trace.nows.windows(2).all(|w| w[0] <= w[1]), "time went backward");

        let mut last_due = start();
        let mut last_now = start();
        for batch in &trace.batches {
            for pair in batch.windows(2) {
                let (a, b) = (&pair[0].timer, &pair[1].timer);
                prop_assert!((a.at, a.id) < (b.at, b.id), "not by deadline then FIFO: {pair:?}");
            }
            for firing in batch {
                let (at, scheduled_at_now) = trace.scheduled[&firing.timer.id];
                prop_assert_eq!(at, firing.timer.at);
                prop_assert!(at <= firing.now, "fired before its deadline: {firing:?}");
                prop_assert!(firing.now >= last_now, "time went backward: {firing:?}");
                // A timer scheduled in the past became due when it was scheduled.
                let due = at.max(scheduled_at_now);
                prop_assert!(due >= last_due, "fired out of order: {firing:?}");
                last_due = due;
                last_now = firing.now;
            }
        }
    }

    /// (3) Every timer not cancelled fires exactly once by the time the clock passes its
    /// deadline (checked after each operation in `run`); cancelled ones never fire; a cancel
    /// succeeds exactly when the timer is still pending.
    #[test]
    fn each_timer_fires_once_unless_cancelled(ops in prop::collection::vec(op(), 0..60)) {
        let trace = run(&ops);
        let mut fired: BTreeMap<TimerId, usize> = BTreeMap::new();
        for firing in trace.batches.iter().flatten() {
            *fired.entry(firing.timer.id).or_default() += 1;
        }
        let cancelled: BTreeSet<TimerId> =
            trace.cancels.iter().filter(|(_, _, ok)| *ok).map(|(_, id, _)| *id).collect();
        for id in trace.scheduled.keys() {
            let expected = usize::from(!cancelled.contains(id));
            prop_assert_eq!(fired.get(id).copied().unwrap_or(0), expected, "timer {:?}", id);
        }
        prop_assert!(fired.keys().all(|id| trace.scheduled.contains_key(id)));

        // Replay in operation order: a cancel succeeds iff the timer is not yet done.
        let mut done = BTreeSet::new();
        let mut cancels = trace.cancels.iter().peekable();
        for (n, batch) in trace.batches.iter().enumerate() {
            if let Some(&(_, id, ok)) = cancels.next_if(|(at_op, _, _)| *at_op == n) {
                prop_assert_eq!(ok, done.insert(id), "cancel {:?}", id);
            }
            for firing in batch {
                prop_assert!(done.insert(firing.timer.id));
            }
        }
    }

    /// (4) The same operations yield the same firings.
    #[test]
    fn runs_are_deterministic(ops in prop::collection::vec(op(), 0..60)) {
        prop_assert_eq!(run(&ops), run(&ops));
    }

    /// (5) `advance_by(a)` then `advance_by(b)` fires what `advance_by(a + b)` fires, in the
    /// same order, and so does `run_until(now + a + b)` with a handler that schedules nothing.
    #[test]
    fn advancing_in_steps_fires_the_same_timers(
        timers in prop::collection::vec((offset_ms(2_000, 20_000), any::<bool>()), 0..40),
        a in 0_u64..15_000,
        b in 0_u64..15_000,
    ) {
        let setup = || {
            let mut clock = VirtualClock::new(start());
            for (key, &(offset, cancel)) in timers.iter().enumerate() {
                let id = clock.schedule_at(after(start(), offset), key);
                if cancel {
                    clock.cancel(id);
                }
            }
            clock
        };
        let ms = Duration::from_millis;

        let mut stepped = setup();
        let mut in_steps = stepped.advance_by(ms(a));
        in_steps.extend(stepped.advance_by(ms(b)));

        let mut at_once = setup();
        prop_assert_eq!(&in_steps, &at_once.advance_by(ms(a + b)));
        prop_assert_eq!(stepped.now(), at_once.now());

        let mut running = setup();
        let mut handled = Vec::new();
        let until = after(start(), i64::try_from(a + b).unwrap());
        let count = running.run_until(until, 1_000, |_, timer| handled.push(timer)).unwrap();
        prop_assert_eq!(count, handled.len());
        prop_assert_eq!(&in_steps, &handled);
        prop_assert_eq!(running.now(), at_once.now());
        prop_assert_eq!(running.next_deadline(), at_once.next_deadline());
    }
}

/// `alien emulate` after a restart (issue 10): the engine resumes at the saved instant plus
/// the real time since it was written, at the saved time scale. Whatever the wall clock does
/// (even when it went back), the resumed instant is never earlier than the saved one, nor
/// earlier than any instant the crashed run could have reached after its last write (it moved
/// at most `time_scale` virtual seconds per real second), so the clock never goes back.
mod resume {
    use alien_emulator::clock::{SavedClock, resume_instant};
    use chrono::{DateTime, TimeDelta, Utc};
    use proptest::prelude::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + TimeDelta::days(20_000) + TimeDelta::milliseconds(ms)
    }

    proptest! {
        #[test]
        fn the_resumed_clock_never_goes_back(
            travelled_ms in 0i64..40 * 86_400_000,
            scale in prop_oneof![Just(1.0f64), 0.01f64..1000.0],
            crash_after_ms in 0i64..3_600_000,
            restart_after_ms in 0i64..86_400_000,
            wall_back_ms in prop_oneof![Just(0i64), 0i64..86_400_000],
        ) {
            let wall = at(0);
            let saved = SavedClock { now: at(travelled_ms), wall, time_scale: scale };
            // The crashed run kept moving after its last write, at its scale.
            let reached = saved.now + TimeDelta::microseconds(
                (crash_after_ms as f64 * 1000.0 * scale) as i64,
            );
            let crash = at(crash_after_ms);
            let restart = crash + TimeDelta::milliseconds(restart_after_ms);
            let resumed = resume_instant(&saved, restart);
            prop_assert!(resumed >= saved.now);
            prop_assert!(resumed >= reached, "{resumed} < {reached}");
            // A wall clock set back before the write: the saved instant itself.
            let set_back = resume_instant(&saved, wall - TimeDelta::milliseconds(wall_back_ms + 1));
            prop_assert_eq!(set_back, saved.now);
        }
    }
}
