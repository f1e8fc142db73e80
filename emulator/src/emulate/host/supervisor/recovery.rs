//! What the supervisor does when a generation ends: report it and, unless the host ended it
//! on purpose, start a new one. The Local worker manager restarts finished workers
//! automatically (upstream-runtime-and-bindings.md §4.1; seed 001 "Automatic restart on crash
//! via background monitor"); consecutive quick crashes back off up to 5 s (upstream's monitor
//! period) so a crash loop does not spin.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{
    Generation, GroupSignal, HostError, HostEvent, Inner, KILL_WAIT, MAX_BACKOFF, ProcessExit,
    RestartReason, STABLE_AFTER, State,
};

impl Inner {
    /// Watches one generation until it ends, then reports and, unless the host ended it on
    /// purpose, replaces it.
    pub(super) async fn monitor(self: Arc<Self>, generation: Arc<Generation>) {
        let process = &generation.process;
        let control = Arc::clone(generation.server.control());
        let cancelled = tokio::select! {
            biased;
            _ = process.wait() => false,
            _ = control.wait_for_cancelled_task() => process.exit_status().is_none(),
        };
        let reason = if cancelled {
            // A task timed out: the app is cancelled for good. Stop it before `send_task`
            // returns its decision, then start a fresh generation.
            generation.cancelled.store(true, Ordering::SeqCst);
            self.leave(&generation, State::Restarting);
            process.signal(GroupSignal::Kill);
            let _ = tokio::time::timeout(KILL_WAIT, process.wait()).await;
            RestartReason::TaskTimeout
        } else {
            RestartReason::Crashed
        };
        control.application_stopped();
        let expected = generation.ending.load(Ordering::SeqCst);
        let status = process.exit_status().unwrap_or(ProcessExit {
            code: None,
            signal: None,
        });
        if !expected && reason == RestartReason::Crashed {
            if generation.started.elapsed() < STABLE_AFTER {
                self.crash_streak.fetch_add(1, Ordering::SeqCst);
            } else {
                self.crash_streak.store(0, Ordering::SeqCst);
            }
            let next = if self.config.restart_on_crash {
                State::Restarting
            } else {
                State::Stopped
            };
            self.leave(&generation, next);
        }
        if let Some(death) = process.out_of_memory() {
            tracing::warn!(worker = %self.config.worker, pid = process.pid(), error_type = %death.error_type, "killed past its memory: {}", death.message);
            self.emit(HostEvent::OutOfMemory {
                pid: process.pid(),
                error_type: death.error_type.clone(),
                message: death.message.clone(),
            });
        }
        self.emit(HostEvent::Exited {
            pid: process.pid(),
            status,
            expected: expected || cancelled,
        });
        tracing::info!(worker = %self.config.worker, pid = process.pid(), %status, expected, "app exited");
        if expected || (reason == RestartReason::Crashed && !self.config.restart_on_crash) {
            return;
        }
        self.emit(HostEvent::Restarting { reason });
        self.recover().await;
    }

    /// Starts generations until one comes up or the host stops.
    pub(super) async fn recover(self: Arc<Self>) {
        let _lifecycle = self.lifecycle.lock().await;
        if !matches!(*self.state.borrow(), State::Restarting) {
            // Replaced by an explicit restart, or stopped, in the meantime.
            return;
        }
        let mut shutdown = self.shutdown.subscribe();
        loop {
            if *shutdown.borrow_and_update() {
                return;
            }
            let delay = backoff(self.crash_streak.load(Ordering::SeqCst));
            if !delay.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.wait_for(|stopping| *stopping) => return,
                }
            }
            match self.launch().await {
                Ok(generation) => {
                    self.install(generation);
                    return;
                }
                Err(HostError::StartAborted { .. }) => return,
                Err(error) => {
                    tracing::warn!(%error, "restart failed");
                    self.emit(HostEvent::StartFailed {
                        error: error.to_string(),
                    });
                    self.crash_streak.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }
}

/// Delay before the next restart after `streak` consecutive quick failures.
fn backoff(streak: u32) -> Duration {
    if streak <= 1 {
        return Duration::ZERO;
    }
    let factor = 1u32 << (streak - 2).min(16);
    (Duration::from_millis(100) * factor).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_crash_restarts_at_once_then_backs_off_to_five_seconds() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::ZERO);
        assert_eq!(backoff(2), Duration::from_millis(100));
        assert_eq!(backoff(3), Duration::from_millis(200));
        assert_eq!(backoff(8), Duration::from_millis(5000));
        assert_eq!(backoff(40), MAX_BACKOFF);
    }
}
