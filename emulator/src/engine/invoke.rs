//! Worker invocations: an attempt on an instance, its timeout (the worker's, the platform's
//! cap and the runtime's event-task cap), its end and what it settles (upstream-cloud-semantics.md
//! §3, §9). The instances themselves are in `scaling.rs`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::duration_serde::format_duration;
use super::events::Event;
use super::faults::FaultKind;
use super::handler::{HandlerCtx, HandlerResult, Reply};
use super::sim::{Dispatch, Invocation, InvocationEnd, Origin, Sim, Timer, Work};
use super::trace::Kind;
use crate::profile::{CommandTimeout, HttpTimeout};

impl Sim {
    pub(crate) fn worker_idx(&self, worker: &str) -> Result<usize, super::sim::SimError> {
        self.worker_index.get(worker).copied().ok_or_else(|| {
            super::sim::SimError::UnknownResource {
                kind: "worker",
                name: worker.into(),
            }
        })
    }

    /// Queues work for a worker and starts what fits.
    pub(crate) fn enqueue_work(&mut self, w: usize, work: Work) {
        self.workers[w].pending.push_back(work);
        self.start_pending(w);
    }

    pub(crate) fn start_pending(&mut self, w: usize) {
        while !self.is_down() {
            let Some(front) = self.workers[w].pending.front() else {
                break;
            };
            if front.scale_out && self.free_slots(w) == 0 {
                break;
            }
            let work = self.workers[w].pending.pop_front().expect("front exists");
            self.start_invocation(w, work);
        }
    }

    /// The longest an attempt of `event` may run: the worker timeout, capped by the
    /// platform's execution limit and, for events, by the runtime's fixed task timeout.
    fn attempt_limit(&self, w: usize, event: &Event) -> Duration {
        let worker = &self.workers[w];
        let mut limit = if self.profile.worker.timeout_enforced.value {
            worker.timeout
        } else {
            Duration::MAX
        };
        if let Some(cap) = self.profile.worker.execution_cap_seconds.value {
            limit = limit.min(Duration::from_secs(u64::from(cap)));
        }
        let caps = &self.profile.worker.event_task_timeout;
        let event_cap = match event {
            Event::Queue(_) => Some(caps.queue_seconds.value),
            Event::Storage(_) => Some(caps.storage_seconds.value),
            Event::Cron(_) => Some(caps.cron_seconds.value),
            Event::Command(_) => match self.profile.worker.command_timeout.value {
                CommandTimeout::Fixed(s) => Some(s),
                // The runtime's command budget is ALIEN_WORKER_TIMEOUT_SECONDS everywhere.
                CommandTimeout::WorkerTimeout => {
                    limit = limit.min(worker.timeout);
                    None
                }
            },
            Event::Http(_) => None,
        };
        if let Some(cap) = event_cap {
            limit = limit.min(Duration::from_secs(u64::from(cap)));
        }
        if let Event::Command(c) = event
            && let Some(deadline) = c.deadline
        {
            limit = limit.min((deadline - self.now()).to_std().unwrap_or_default());
        }
        limit
    }

    fn start_invocation(&mut self, w: usize, work: Work) {
        let now = self.now();
        let worker_id = self.workers[w].id.clone();
        // Instance: reuse a warm one, or start one and pay its cold start. Per-replica work
        // runs inside a replica that is already up.
        let mut cold = Duration::ZERO;
        let instance = if work.scale_out {
            let warm = self.workers[w].pool.take_warm();
            Some(warm.unwrap_or_else(|| {
                let n = self.workers[w].pool.start_new();
                cold = self.cold_start(w, n);
                n
            }))
        } else {
            self.workers[w].pool.any_running()
        };
        let uses_slot = work.scale_out;
        if uses_slot {
            let busy = self.workers[w].pool.busy();
            self.workers[w].peak = self.workers[w].peak.max(busy);
        }
        self.start_attempt(w, work, instance, cold, now, worker_id);
    }

    /// Starts `work` on `instance`: the delivery in the trace, the gateway's deadline, then
    /// the handler (simulated) or a dispatch to the instance's process (external).
    fn start_attempt(
        &mut self,
        w: usize,
        work: Work,
        instance: Option<u32>,
        cold: Duration,
        now: DateTime<Utc>,
        worker_id: String,
    ) {
        let uses_slot = work.scale_out;
        let attempt = match (&work.event, &work.origin) {
            (Event::Queue(m), _) => m.attempt_count,
            (_, Origin::Event { attempt }) => *attempt,
            (Event::Command(c), _) => c.attempt,
            _ => 1,
        };
        if let Origin::Queue {
            queue,
            sub,
            msg,
            receipt,
        } = work.origin
        {
            let queue_id = self.queues[queue].id.clone();
            let stored_id = format!("m-{msg}");
            let mut detail = vec![("to", worker_id.clone()), ("attempt", attempt.to_string())];
            let lease = self.queues[queue].subs[sub]
                .msgs
                .get(&msg)
                .and_then(|m| m.lease.as_ref()?.length);
            if let Some(lease) = lease {
                detail.push(("lease", format_duration(lease)));
            }
            if let Some(n) = instance {
                detail.push(("instance", n.to_string()));
            }
            match &work.event {
                // Platforms with a fresh id per delivery (Local): the subject stays the stored id.
                Event::Queue(m) if m.id != stored_id => detail.push(("delivery_id", m.id.clone())),
                Event::Storage(s) => detail.push(("key", s.key.clone())),
                _ => {}
            }
            self.record(Kind::Delivered, &queue_id, Some(&stored_id), detail);
            self.mark_running(queue, sub, msg, receipt, true);
        }
        if let Origin::Http { request } = &work.origin {
            let gateway = self.http_limit(w);
            let timer = Timer::HttpDeadline {
                worker: w,
                request: request.clone(),
            };
            self.schedule_in(gateway, timer);
        }

        let key = match &work.origin {
            Origin::Queue {
                queue, sub, msg, ..
            } => format!("queue:{queue}:{sub}:{msg}"),
            _ => work.event.key(),
        };
        let limit = self.attempt_limit(w, &work.event);
        if self.workers[w].external {
            // A real process answers later through `complete`; until then the attempt's
            // timeout is the only timer.
            let inv = self.next_id();
            let timer = self.schedule_in(cold + limit, Timer::InvocationEnd { inv });
            let crash = self
                .config
                .faults
                .strikes(FaultKind::HandlerCrash, &mut self.rng);
            if crash {
                self.record(
                    Kind::Fault,
                    &worker_id,
                    None,
                    vec![("fault", "handler_crash".into())],
                );
            }
            self.apply_delivery_faults(&work.origin, &worker_id);
            self.outbox.push(Dispatch {
                invocation: inv,
                worker: worker_id,
                event: work.event.clone(),
                attempt,
                timeout: limit,
                cold_start: cold,
                crash,
                instance,
            });
            self.invocations.insert(
                inv,
                Invocation {
                    worker: w,
                    event: work.event,
                    origin: work.origin,
                    started_at: now,
                    end: InvocationEnd::TimedOut(limit),
                    uses_slot,
                    instance,
                    timer: Some(timer),
                },
            );
            return;
        }
        let reply = self.call_handler(w, &work.event, attempt, &key);
        let crash = self
            .config
            .faults
            .strikes(FaultKind::HandlerCrash, &mut self.rng);
        let (ran, end) = if crash {
            self.record(
                Kind::Fault,
                &worker_id,
                None,
                vec![("fault", "handler_crash".into())],
            );
            (reply.duration.min(limit) / 2, InvocationEnd::Crashed)
        } else if reply.duration > limit {
            (limit, InvocationEnd::TimedOut(limit))
        } else {
            let end = match reply.result {
                HandlerResult::Ok { status, body_bytes } => {
                    InvocationEnd::Succeeded { status, body_bytes }
                }
                HandlerResult::Err(message) => InvocationEnd::Failed(message),
                HandlerResult::Crash => InvocationEnd::Crashed,
            };
            (reply.duration, end)
        };
        self.apply_delivery_faults(&work.origin, &worker_id);
        let inv = self.next_id();
        self.invocations.insert(
            inv,
            Invocation {
                worker: w,
                event: work.event,
                origin: work.origin,
                started_at: now,
                end,
                uses_slot,
                instance,
                timer: None,
            },
        );
        self.schedule_in(cold + ran, Timer::InvocationEnd { inv });
    }

    /// The id of the newest attempt handed to a real process that has not ended yet (ids
    /// only grow, so every attempt started later has a larger one).
    pub fn newest_external_attempt(&self) -> Option<u64> {
        self.invocations
            .iter()
            .rev()
            .find(|(_, i)| i.timer.is_some())
            .map(|(id, _)| *id)
    }

    /// Attempts handed to real processes, up to id `through`, that have not ended yet.
    pub fn external_in_flight_through(&self, through: u64) -> usize {
        self.invocations
            .range(..=through)
            .filter(|(_, i)| i.timer.is_some())
            .count()
    }

    /// Invocations waiting for a real process to handle them.
    pub fn take_dispatches(&mut self) -> Vec<Dispatch> {
        std::mem::take(&mut self.outbox)
    }

    /// A real process answered `invocation`. A late answer (the attempt already timed out)
    /// is ignored, as the platform ignores it.
    pub fn complete(&mut self, invocation: u64, outcome: HandlerResult) {
        let Some(inv) = self.invocations.get_mut(&invocation) else {
            return;
        };
        inv.end = match outcome {
            HandlerResult::Ok { status, body_bytes } => {
                InvocationEnd::Succeeded { status, body_bytes }
            }
            HandlerResult::Err(message) => InvocationEnd::Failed(message),
            HandlerResult::Crash => InvocationEnd::Crashed,
        };
        if let Some(timer) = inv.timer.take() {
            self.clock.cancel(timer);
        }
        self.on_invocation_end(invocation);
    }

    fn call_handler(&mut self, w: usize, event: &Event, attempt: u32, key: &str) -> Reply {
        let mut handler = self.workers[w].handler.take();
        let reply = match handler.as_mut() {
            Some(h) => h.handle(
                event,
                &mut HandlerCtx {
                    rng: &mut self.rng,
                    attempt,
                    key,
                },
            ),
            None => Reply::ok(Duration::ZERO),
        };
        self.workers[w].handler = handler;
        reply
    }

    pub(crate) fn on_invocation_end(&mut self, inv: u64) {
        let Some(invocation) = self.invocations.remove(&inv) else {
            return;
        };
        let w = invocation.worker;
        let worker_id = self.workers[w].id.clone();
        if let Some(n) = invocation.instance {
            if matches!(invocation.end, InvocationEnd::Crashed) {
                // The instance died with the process; the next invocation starts a new one.
                self.workers[w].pool.lose(n);
                self.note_stopped(w, &[n]);
            } else if invocation.uses_slot {
                self.workers[w].pool.release(n);
            }
        }
        let subject = match (&invocation.origin, &invocation.event) {
            (Origin::Queue { msg, .. }, Event::Queue(_)) => format!("m-{msg}"),
            _ => invocation_subject(&invocation.event),
        };
        let took = (self.now() - invocation.started_at)
            .to_std()
            .unwrap_or_default();
        let took = super::duration_serde::format_duration(took);
        let (kind, mut detail) = match &invocation.end {
            InvocationEnd::Succeeded { .. } => (Kind::Succeeded, vec![("took", took)]),
            InvocationEnd::Failed(message) => (
                Kind::Failed,
                vec![("took", took), ("error", message.clone())],
            ),
            InvocationEnd::TimedOut(limit) => (
                Kind::TimedOut,
                vec![("after", super::duration_serde::format_duration(*limit))],
            ),
            InvocationEnd::Crashed => (Kind::Crashed, vec![("took", took)]),
        };
        if let Some(n) = invocation.instance {
            detail.push(("instance", n.to_string()));
        }
        self.record(kind, &worker_id, Some(&subject), detail);
        let success = matches!(invocation.end, InvocationEnd::Succeeded { .. });
        match invocation.origin {
            Origin::Queue {
                queue,
                sub,
                msg,
                receipt,
            } => self.settle_queue(queue, sub, msg, receipt, success, &worker_id),
            Origin::Event { attempt } => self.settle_event(w, invocation.event, attempt, success),
            Origin::Command { command } => self.settle_command(command, &invocation.end),
            Origin::Http { request } => self.settle_http(w, &request, &invocation.end),
        }
        if self.config.recycle && self.workers[w].external {
            self.recycle(w);
        }
        self.schedule_idle_check(w);
        self.start_pending(w);
        self.pump_consumers_of(w);
    }

    fn pump_consumers_of(&mut self, w: usize) {
        let queues: Vec<usize> = (0..self.queues.len())
            .filter(|&q| self.queues[q].subs.iter().any(|s| s.consumers.contains(&w)))
            .collect();
        for q in queues {
            self.pump_queue(q);
        }
    }

    /// Storage and cron events: retried per the platform's policy.
    fn settle_event(&mut self, w: usize, event: Event, attempt: u32, success: bool) {
        if success {
            return;
        }
        let retries = match &event {
            Event::Cron(_) => self.profile.cron.retries.value,
            _ => self.storage_async_retries(),
        };
        if attempt <= retries {
            // [platform knowledge] Lambda retries asynchronous invocations after 1 and 2 minutes.
            let delay = Duration::from_secs(60 * u64::from(attempt));
            self.schedule_in(
                delay,
                Timer::EventRetry {
                    worker: w,
                    event: Box::new(event),
                    attempt: attempt + 1,
                },
            );
        }
    }

    /// The `took`/`after` text of an HTTP limit, for reasons.
    pub(crate) fn http_limit(&self, w: usize) -> Duration {
        match self.profile.worker.http_timeout.value {
            HttpTimeout::Fixed(s) => Duration::from_secs(u64::from(s)),
            HttpTimeout::WorkerTimeout => self.workers[w].timeout,
        }
    }
}

fn invocation_subject(event: &Event) -> String {
    match event {
        Event::Queue(m) => m.id.clone(),
        Event::Storage(s) => format!("{}/{}", s.bucket, s.key),
        Event::Cron(c) => c.scheduled_time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Event::Command(c) => c.command_id.clone(),
        Event::Http(h) => h.request_id.clone(),
    }
}
