//! The clocks every timer goes through.
//!
//! State machines read time only from a [`Clock`]. Three clocks exist:
//!
//! - [`SystemClock`]: the wall clock.
//! - [`ScaledClock`]: real time from an origin, multiplied by a time scale, plus an offset
//!   that time travel ([`ScaledClock::advance`]) adds. Drives `alien emulate`.
//! - [`VirtualClock`]: starts at a given instant and moves only when told. It owns a
//!   [`TimerQueue`] and drives `alien simulate`: run until idle, jump to the next timer, repeat.
//!
//! Timers are ordered by deadline, then by the order they were scheduled (FIFO for equal
//! deadlines); a timer scheduled in the past is due at the next pop. Durations are
//! [`std::time::Duration`] throughout: they cannot be negative, so no API can move time
//! backward. Additions saturate at [`DateTime::<Utc>::MAX_UTC`].

mod resume;
mod scaled;
mod timers;
mod virtual_clock;

use chrono::{DateTime, TimeDelta, Utc};
use std::time::Duration;
use thiserror::Error;

pub use resume::{SavedClock, resume_instant};
pub use scaled::ScaledClock;
pub use timers::{Fired, TimerId, TimerQueue};
pub use virtual_clock::VirtualClock;

/// A source of the current instant.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock ([`Utc::now`]). It can jump when the system clock is adjusted; prefer
/// [`ScaledClock`], which measures elapsed time with a monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Errors from the clocks.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ClockError {
    /// A time scale that is not a finite number greater than zero.
    #[error("time scale must be a finite number greater than zero, got {0}")]
    InvalidScale(f64),
    /// A run fired its step budget and timers were still due (a handler may reschedule forever).
    #[error("timers still due after {max_steps} steps; a handler may be rescheduling without end")]
    StepLimit {
        /// The step budget that was exhausted.
        max_steps: usize,
    },
}

/// `t + d`, saturating at [`DateTime::<Utc>::MAX_UTC`].
fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_saturates() {
        let t = DateTime::<Utc>::MAX_UTC - TimeDelta::seconds(1);
        assert_eq!(add(t, Duration::from_secs(10)), DateTime::<Utc>::MAX_UTC);
        assert_eq!(add(t, Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(
            add(DateTime::UNIX_EPOCH, Duration::from_millis(1500)),
            DateTime::UNIX_EPOCH + TimeDelta::milliseconds(1500)
        );
    }

    #[test]
    fn system_clock_is_close_to_wall_time() {
        let before = Utc::now();
        let now = SystemClock.now();
        assert!(now >= before && now <= Utc::now());
    }
}
