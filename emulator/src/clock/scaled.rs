//! Scaled real time with time travel, for `alien emulate`.

use super::{Clock, ClockError, add};
use chrono::{DateTime, Utc};
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Real time elapsed since the clock was created. Must never decrease.
type Elapsed = Box<dyn Fn() -> Duration + Send + Sync>;

/// Real time from an origin, multiplied by a time scale, plus an offset that
/// [`advance`](Self::advance) adds:
///
/// `now = start + real_elapsed × time_scale + offset`
///
/// With a scale of `60.0`, one real second is one virtual minute. Real time is measured with
/// a monotonic clock, and the offset only grows, so `now` never moves backward.
pub struct ScaledClock {
    start: DateTime<Utc>,
    time_scale: f64,
    elapsed: Elapsed,
    offset: Mutex<Duration>,
}

impl ScaledClock {
    /// A clock at `start` now, moving `time_scale` times as fast as real time.
    pub fn new(start: DateTime<Utc>, time_scale: f64) -> Result<Self, ClockError> {
        let origin = Instant::now();
        Self::with_elapsed(start, time_scale, move || origin.elapsed())
    }

    /// Like [`new`](Self::new), with real time read from `elapsed`: the real time since the
    /// clock was created, which must never decrease. Tests use it to avoid the wall clock.
    pub fn with_elapsed(
        start: DateTime<Utc>,
        time_scale: f64,
        elapsed: impl Fn() -> Duration + Send + Sync + 'static,
    ) -> Result<Self, ClockError> {
        if !(time_scale.is_finite() && time_scale > 0.0) {
            return Err(ClockError::InvalidScale(time_scale));
        }
        Ok(Self {
            start,
            time_scale,
            elapsed: Box::new(elapsed),
            offset: Mutex::new(Duration::ZERO),
        })
    }

    /// Virtual time per unit of real time.
    pub fn time_scale(&self) -> f64 {
        self.time_scale
    }

    /// Time travel: moves `now` forward by `d` at once. Timers due in the skipped span are due
    /// at the driver's next pop.
    pub fn advance(&self, d: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        *offset = offset.saturating_add(d);
    }

    /// How long to sleep in real time until virtual `deadline` (zero if it has passed).
    /// Rounded up to the microsecond; a driver should still re-check after waking, since
    /// [`advance`](Self::advance) may have moved the deadline closer meanwhile.
    pub fn sleep_duration_until(&self, deadline: DateTime<Utc>) -> Duration {
        let Ok(remaining) = (deadline - self.now()).to_std() else {
            return Duration::ZERO;
        };
        // `as` saturates, so an enormous wait becomes `u64::MAX` microseconds.
        Duration::from_micros((remaining.as_secs_f64() / self.time_scale * 1e6).ceil() as u64)
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        let real = (self.elapsed)().as_secs_f64() * self.time_scale;
        let scaled = Duration::try_from_secs_f64(real).unwrap_or(Duration::MAX);
        let offset = *self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        add(add(self.start, scaled), offset)
    }
}

impl fmt::Debug for ScaledClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScaledClock")
            .field("start", &self.start)
            .field("time_scale", &self.time_scale)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use std::sync::Arc;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + TimeDelta::seconds(secs)
    }

    /// A scaled clock over a hand-moved real clock.
    fn manual(time_scale: f64) -> (ScaledClock, Arc<Mutex<Duration>>) {
        let real = Arc::new(Mutex::new(Duration::ZERO));
        let source = Arc::clone(&real);
        let clock = ScaledClock::with_elapsed(t(1000), time_scale, move || *source.lock().unwrap())
            .unwrap();
        (clock, real)
    }

    #[test]
    fn starts_at_start() {
        let (clock, _) = manual(60.0);
        assert_eq!(clock.now(), t(1000));
    }

    #[test]
    fn scales_real_time() {
        let (clock, real) = manual(60.0);
        *real.lock().unwrap() = Duration::from_secs(2);
        assert_eq!(clock.now(), t(1000 + 120));
        *real.lock().unwrap() = Duration::from_millis(2500);
        assert_eq!(clock.now(), t(1000 + 150));
    }

    #[test]
    fn slows_real_time() {
        let (clock, real) = manual(0.5);
        *real.lock().unwrap() = Duration::from_secs(10);
        assert_eq!(clock.now(), t(1005));
    }

    #[test]
    fn advance_jumps_forward_at_once_and_accumulates() {
        let (clock, real) = manual(2.0);
        clock.advance(Duration::from_secs(3600));
        assert_eq!(clock.now(), t(1000 + 3600));
        *real.lock().unwrap() = Duration::from_secs(5);
        clock.advance(Duration::from_secs(60));
        assert_eq!(clock.now(), t(1000 + 3600 + 10 + 60));
    }

    #[test]
    fn sleep_duration_converts_virtual_to_real_time() {
        let (clock, real) = manual(60.0);
        assert_eq!(
            clock.sleep_duration_until(t(1000 + 120)),
            Duration::from_secs(2)
        );
        *real.lock().unwrap() = Duration::from_secs(1);
        assert_eq!(
            clock.sleep_duration_until(t(1000 + 120)),
            Duration::from_secs(1)
        );
        clock.advance(Duration::from_secs(60));
        assert_eq!(clock.sleep_duration_until(t(1000 + 120)), Duration::ZERO);
        assert_eq!(clock.sleep_duration_until(t(0)), Duration::ZERO);
        assert_eq!(
            clock.sleep_duration_until(t(1000 + 120) + TimeDelta::milliseconds(1)),
            Duration::from_micros(17),
            "rounded up, so the driver does not wake early"
        );
    }

    #[test]
    fn rejects_unusable_scales() {
        for scale in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = ScaledClock::new(t(0), scale).unwrap_err();
            assert!(matches!(err, ClockError::InvalidScale(_)), "{scale}");
        }
        assert_eq!(ScaledClock::new(t(0), 60.0).unwrap().time_scale(), 60.0);
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        let (clock, real) = manual(1e300);
        *real.lock().unwrap() = Duration::from_secs(1);
        assert_eq!(clock.now(), DateTime::<Utc>::MAX_UTC);
        clock.advance(Duration::MAX);
        clock.advance(Duration::MAX);
        assert_eq!(clock.now(), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn real_clock_moves_forward() {
        let clock = ScaledClock::new(t(0), 1.0).unwrap();
        let a = clock.now();
        assert!(clock.now() >= a);
        assert!(format!("{clock:?}").starts_with("ScaledClock"));
    }
}
