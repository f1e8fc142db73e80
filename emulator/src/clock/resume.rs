//! Where an emulator's clock starts again after a restart on the same state.

use chrono::{DateTime, TimeDelta, Utc};

/// What a durable store keeps of an emulator's clock at each write.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SavedClock {
    /// The engine's instant.
    pub now: DateTime<Utc>,
    /// The wall-clock instant of the write.
    pub wall: DateTime<Utc>,
    /// Virtual seconds per real second of the run that wrote it.
    pub time_scale: f64,
}

/// The engine's instant after a restart at wall-clock `wall_now`: the saved instant plus the
/// real time since that write at the saved run's time scale, so leases, retention and cron
/// slots that fell due while the emulator was down are due at once, and the time travelled
/// before the crash is kept. It is never earlier than the saved instant, even when the wall
/// clock went back, and never earlier than any instant the previous run reached after that
/// write (that run moved at most `time_scale` virtual seconds per real second without
/// writing).
pub fn resume_instant(saved: &SavedClock, wall_now: DateTime<Utc>) -> DateTime<Utc> {
    let Ok(down) = (wall_now - saved.wall).to_std() else {
        return saved.now;
    };
    let scale = if saved.time_scale.is_finite() && saved.time_scale > 0.0 {
        saved.time_scale
    } else {
        1.0
    };
    let virtual_down = down.as_secs_f64() * scale;
    let delta = std::time::Duration::try_from_secs_f64(virtual_down)
        .ok()
        .and_then(|d| TimeDelta::from_std(d).ok())
        .unwrap_or(TimeDelta::MAX);
    saved
        .now
        .checked_add_signed(delta)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
