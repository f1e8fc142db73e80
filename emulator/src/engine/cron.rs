//! Schedule triggers in virtual time: fire times in the platform's dialect, the schedule name
//! each platform delivers, retries, per-replica fires and Local's single catch-up after
//! downtime (upstream-stack-and-limits.md §4.3; upstream-cloud-semantics.md §6).

use std::time::Duration;

use super::events::{CronEvent, Event};
use super::faults::FaultKind;
use super::sim::{CronTrigger, Origin, Sim, Timer, Work};
use super::trace::Kind;
use crate::profile::{ScheduleName, TriggerWiring};
use crate::stack::WorkerTrigger;

impl Sim {
    pub(crate) fn provision_crons(&mut self) {
        if self.profile.worker.triggers.schedule.value != TriggerWiring::Wired {
            return;
        }
        let start = self.now();
        let dialect = self.profile.cron.dialect.value;
        let mut triggers = Vec::new();
        for (wid, worker) in self.stack.workers() {
            let mut schedule_index = 0;
            for (index, trigger) in worker.triggers.iter().enumerate() {
                let WorkerTrigger::Schedule { cron } = trigger else {
                    continue;
                };
                let schedule_name = match self.profile.cron.schedule_name.value {
                    ScheduleName::RuleArn => format!(
                        "arn:aws:events:us-east-1:000000000000:rule/{}-{wid}-cron-{index}",
                        self.stack.id
                    ),
                    ScheduleName::SchedulerJobName => {
                        format!("{}-{wid}-cron-{index}", self.stack.id)
                    }
                    ScheduleName::DaprComponent => {
                        format!("cron-{}-{wid}-{schedule_index}", self.stack.id)
                    }
                    ScheduleName::CronExpression => cron.clone(),
                };
                schedule_index += 1;
                triggers.push(CronTrigger {
                    worker: self.worker_index[wid],
                    expr: cron.clone(),
                    schedule: crate::cron::compile(cron, dialect, start).ok(),
                    schedule_name,
                    last_fired: None,
                    next: None,
                    missed: None,
                });
            }
        }
        self.crons = triggers;
        for t in 0..self.crons.len() {
            if self.crons[t].schedule.is_none() {
                let (worker, expr) = (
                    self.workers[self.crons[t].worker].id.clone(),
                    self.crons[t].expr.clone(),
                );
                self.record(
                    Kind::CronSkipped,
                    &worker,
                    Some(&expr),
                    vec![("reason", "the platform rejects this expression".into())],
                );
            }
            self.schedule_next_fire(t, start);
        }
    }

    fn schedule_next_fire(&mut self, t: usize, after: chrono::DateTime<chrono::Utc>) {
        let next = self.crons[t]
            .schedule
            .as_ref()
            .and_then(|s| s.next_after(after));
        self.crons[t].next = next;
        if let Some(at) = next {
            self.schedule_at(at, Timer::CronFire { trigger: t });
        }
    }

    pub(crate) fn on_cron_fire(&mut self, t: usize) {
        let Some(slot) = self.crons[t].next else {
            return;
        };
        self.schedule_next_fire(t, slot);
        let w = self.crons[t].worker;
        let worker = self.workers[w].id.clone();
        let name = self.crons[t].schedule_name.clone();
        if self.is_down() {
            // Remember the slot: Local fires once for missed slots when it comes back.
            self.crons[t].missed = Some(slot);
            self.record(
                Kind::CronSkipped,
                &worker,
                Some(&name),
                vec![("reason", "host down".into())],
            );
            return;
        }
        if self
            .config
            .faults
            .strikes(FaultKind::CronSkip, &mut self.rng)
        {
            self.record(
                Kind::Fault,
                &worker,
                Some(&name),
                vec![("fault", "cron_skip".into())],
            );
            return;
        }
        let mut fires = if self.profile.cron.per_replica.value {
            self.workers[w].pool.running()
        } else {
            1
        };
        if fires == 0 {
            self.record(
                Kind::CronSkipped,
                &worker,
                Some(&name),
                vec![("reason", "no running replica (scaled to zero)".into())],
            );
            return;
        }
        if self
            .config
            .faults
            .strikes(FaultKind::CronDoubleFire, &mut self.rng)
        {
            self.record(
                Kind::Fault,
                &worker,
                Some(&name),
                vec![("fault", "cron_double_fire".into())],
            );
            fires += 1;
        }
        for _ in 0..fires {
            self.fire_cron(t, slot, "schedule");
        }
    }

    fn fire_cron(&mut self, t: usize, slot: chrono::DateTime<chrono::Utc>, why: &str) {
        self.crons[t].last_fired = Some(slot);
        self.mark_cron(t);
        let w = self.crons[t].worker;
        let worker = self.workers[w].id.clone();
        let name = self.crons[t].schedule_name.clone();
        let detail = vec![
            ("slot", slot.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            ("to", worker.clone()),
            ("why", why.to_string()),
        ];
        self.record(Kind::CronFired, &worker, Some(&name), detail);
        let event = Event::Cron(CronEvent {
            schedule_name: name,
            scheduled_time: slot,
        });
        // Dapr's cron binding fires inside each running replica: that replica runs it.
        let scale_out = !self.profile.cron.per_replica.value;
        self.enqueue_work(
            w,
            Work {
                event,
                origin: Origin::Event { attempt: 1 },
                scale_out,
            },
        );
    }

    /// Fires schedule trigger `index` of `worker` now (the control API's "fire a cron now").
    pub fn fire_cron_now(
        &mut self,
        worker: &str,
        index: usize,
    ) -> Result<(), super::sim::SimError> {
        let w = self.worker_idx(worker)?;
        let t = (0..self.crons.len())
            .filter(|&t| self.crons[t].worker == w)
            .nth(index)
            .ok_or_else(|| {
                super::sim::SimError::Invalid(format!(
                    "worker '{worker}' has no schedule trigger #{index}"
                ))
            })?;
        let now = self.now();
        self.fire_cron(t, now, "manual");
        Ok(())
    }

    /// (worker, cron expression) of every schedule trigger, in stack order.
    pub fn cron_triggers(&self) -> Vec<(String, String)> {
        self.crons
            .iter()
            .map(|c| (self.workers[c.worker].id.clone(), c.expr.clone()))
            .collect()
    }

    /// Fires trigger `t` once for a slot missed while the emulator was down (Local's
    /// catch-up, upstream-stack-and-limits.md §4.3).
    pub(crate) fn catch_up(&mut self, t: usize, slot: chrono::DateTime<chrono::Utc>) {
        self.fire_cron(t, slot, "catch-up");
    }

    /// Takes the host down for `duration`: no deliveries, cron slots missed. When it comes
    /// back, platforms with catch-up fire each trigger once for its missed slots.
    pub fn downtime(&mut self, duration: Duration) {
        let until =
            self.now() + chrono::Duration::from_std(duration).unwrap_or(chrono::TimeDelta::MAX);
        self.down_until = Some(until);
        self.record(
            Kind::Fault,
            "host",
            None,
            vec![
                ("fault", "downtime".into()),
                ("for", super::duration_serde::format_duration(duration)),
            ],
        );
        self.schedule_at(until, Timer::DowntimeEnd);
    }

    pub(crate) fn on_downtime_end(&mut self) {
        self.down_until = None;
        if self.profile.cron.catch_up_once.value {
            for t in 0..self.crons.len() {
                if let Some(slot) = self.crons[t].missed.take() {
                    self.fire_cron(t, slot, "catch-up");
                }
            }
        } else {
            self.crons.iter_mut().for_each(|c| c.missed = None);
        }
        for w in 0..self.workers.len() {
            self.start_pending(w);
        }
        for q in 0..self.queues.len() {
            self.pump_queue(q);
        }
    }
}
