//! A worker's instances: how many the platform allows (and `--max-instances` here), the cold
//! start of a new one, scale-in of idle ones, recycling, and which instances of a real
//! process's worker stopped (upstream-cloud-semantics.md §3.1, §9; seed 001 "scale to zero
//! when idle", "stateless execution").

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use rand::Rng;

use super::faults::FaultKind;
use super::instances::InstancePool;
use super::sim::{Sim, Timer, WorkerRt};
use super::trace::Kind;
use crate::profile::{ConcurrencyModel, ScaleToZero};

impl Sim {
    pub(crate) fn provision_workers(&mut self) {
        let workers: Vec<(String, crate::stack::Worker)> = self
            .stack
            .workers()
            .map(|(id, w)| (id.to_string(), w.clone()))
            .collect();
        for (id, w) in workers {
            let public = w.is_public();
            let max_instances = match self.profile.worker.concurrency.value {
                ConcurrencyModel::ReservedConcurrency { default_limit } => {
                    w.concurrency_limit.unwrap_or(default_limit)
                }
                ConcurrencyModel::MaxInstances { default_max, .. } => {
                    w.concurrency_limit.unwrap_or(default_max)
                }
                ConcurrencyModel::MaxReplicas { default_max } => {
                    w.concurrency_limit.unwrap_or(default_max)
                }
                ConcurrencyModel::FixedReplicas { replicas } => replicas,
                ConcurrencyModel::SingleProcess => 1,
            }
            .max(1);
            let min_instances = match self.profile.worker.scale_to_zero.value {
                ScaleToZero::Always => 0,
                ScaleToZero::PrivateOnly => u32::from(public),
                ScaleToZero::Never => 1,
            };
            self.worker_index.insert(id.clone(), self.workers.len());
            self.workers.push(WorkerRt {
                id,
                timeout: Duration::from_secs(u64::from(w.timeout_seconds)),
                public,
                pool: InstancePool::with_idle(min_instances),
                min_instances,
                max_instances,
                peak: 0,
                scale_in_pending: false,
                pending: VecDeque::new(),
                handler: None,
                external: false,
                stopped: Vec::new(),
            });
        }
    }

    /// Event slots still free: the app SDK handles one task at a time per instance
    /// (upstream-runtime-and-bindings.md §2.10), so a worker runs at most `max_instances`,
    /// and at most `--max-instances` on this machine.
    pub(crate) fn free_slots(&self, w: usize) -> u32 {
        let worker = &self.workers[w];
        let cap = match self.config.max_local_instances {
            Some(local) => worker.max_instances.min(local.max(1)),
            None => worker.max_instances,
        };
        cap.saturating_sub(worker.pool.busy())
    }

    /// Every instance the platform allows is busy: past this the platform throttles (the local
    /// `--max-instances` cap only makes work wait).
    pub(crate) fn at_platform_limit(&self, w: usize) -> bool {
        let worker = &self.workers[w];
        worker.pool.busy() >= worker.max_instances
    }

    /// A new instance's cold start (seeded from the profile's range), recorded with the
    /// instance's number; zero when cold starts are off.
    pub(super) fn cold_start(&mut self, w: usize, instance: u32) -> Duration {
        let worker_id = self.workers[w].id.clone();
        let range = match self.config.cold_start_override {
            Some(fixed) => {
                let ms = u32::try_from(fixed.as_millis()).unwrap_or(u32::MAX);
                (ms > 0).then_some((ms, ms))
            }
            None => self.profile.worker.cold_start_ms.value,
        };
        let (true, Some((lo, hi))) = (self.config.cold_starts, range) else {
            return Duration::ZERO;
        };
        let mut ms = self.rng.random_range(lo..=hi);
        if self
            .config
            .faults
            .strikes(FaultKind::ColdStartSpike, &mut self.rng)
        {
            ms *= 10;
            self.record(
                Kind::Fault,
                &worker_id,
                None,
                vec![("fault", "cold_start_spike".into())],
            );
        }
        let cold = Duration::from_millis(u64::from(ms));
        self.record(
            Kind::ColdStart,
            &worker_id,
            None,
            vec![
                ("latency", super::duration_serde::format_duration(cold)),
                ("instance", instance.to_string()),
            ],
        );
        cold
    }

    /// Marks a worker's invocations as handled by a real process: they go to the outbox
    /// ([`Sim::take_dispatches`]) and end when [`Sim::complete`] reports the result.
    ///
    /// The emulator starts one process per worker at launch, so the worker begins with one
    /// warm instance (number 1); each instance the platform stops (scale-in, scale to zero,
    /// recycling, a crash) is named by [`Sim::take_stopped_instances`] so its process can be
    /// stopped, and a new instance pays a cold start.
    pub fn set_external(&mut self, worker: &str) -> Result<(), super::sim::SimError> {
        let w = self.worker_idx(worker)?;
        self.workers[w].external = true;
        if self.workers[w].pool.running() == 0 {
            self.workers[w].pool.add_idle();
            self.schedule_idle_check(w);
        }
        Ok(())
    }

    /// Each worker's instances now: (running, busy).
    pub fn instance_counts(&self) -> BTreeMap<String, (u32, u32)> {
        self.workers
            .iter()
            .map(|w| (w.id.clone(), (w.pool.running(), w.pool.busy())))
            .collect()
    }

    /// Instances of external workers (worker, number) stopped since the last call.
    pub fn take_stopped_instances(&mut self) -> Vec<(String, u32)> {
        let mut stopped = Vec::new();
        for worker in &mut self.workers {
            for n in std::mem::take(&mut worker.stopped) {
                stopped.push((worker.id.clone(), n));
            }
        }
        stopped
    }

    /// Instances `stopped` of worker `w` are gone: an external worker's processes follow.
    pub(super) fn note_stopped(&mut self, w: usize, stopped: &[u32]) {
        if self.workers[w].external {
            self.workers[w].stopped.extend_from_slice(stopped);
        }
    }

    pub(super) fn schedule_idle_check(&mut self, w: usize) {
        let worker = &self.workers[w];
        if worker.pool.running() > worker.min_instances && !worker.scale_in_pending {
            self.workers[w].scale_in_pending = true;
            self.schedule_in(self.config.idle_timeout, Timer::ScaleIn { worker: w });
        }
    }

    /// Scale in: instances beyond the most that ran at once during the last idle window
    /// stop; with no traffic at all the worker scales to its minimum (zero where it can).
    pub(crate) fn on_scale_in(&mut self, w: usize) {
        let worker = &mut self.workers[w];
        worker.scale_in_pending = false;
        let busy = worker.pool.busy();
        let keep = worker.peak.max(busy).max(worker.min_instances);
        worker.peak = busy;
        let running = worker.pool.running();
        if running > keep {
            let stopped = worker.pool.stop_idle(running - keep);
            let running = worker.pool.running();
            let id = worker.id.clone();
            let kind = if running == 0 {
                Kind::ScaledToZero
            } else {
                Kind::ScaledIn
            };
            self.record(
                kind,
                &id,
                None,
                vec![
                    ("instances_stopped", stopped.len().to_string()),
                    ("running", running.to_string()),
                    ("stopped", numbers(&stopped)),
                ],
            );
            self.note_stopped(w, &stopped);
        }
        self.schedule_idle_check(w);
    }

    /// Chaos (seed 001: "stateless execution"): the instance that handled an invocation is
    /// replaced, so the next one starts cold and in-memory state is gone.
    pub(super) fn recycle(&mut self, w: usize) {
        let worker = &mut self.workers[w];
        let stopped = worker.pool.stop_idle(u32::MAX);
        if stopped.is_empty() {
            return;
        }
        let id = worker.id.clone();
        let running = worker.pool.running();
        self.record(
            Kind::Recycled,
            &id,
            None,
            vec![
                ("running", running.to_string()),
                ("stopped", numbers(&stopped)),
            ],
        );
        self.note_stopped(w, &stopped);
    }
}

/// Instance numbers as the trace shows them: `2,3`.
fn numbers(instances: &[u32]) -> String {
    let text: Vec<String> = instances.iter().map(u32::to_string).collect();
    text.join(",")
}
