//! Push backoff: how a push subscription slows down after failed pushes (profile
//! `queue.push_backoff`; Pub/Sub push subscriptions, peers-2026.md).

use std::time::Duration;

use super::sim::{Sim, Timer};
use super::trace::Kind;

impl Sim {
    /// Push backoff (profile `queue.push_backoff`): a failed push pauses the subscription's
    /// deliveries, twice as long after each further failure up to the profile's maximum;
    /// a successful push ends the backoff.
    pub(super) fn adjust_push_backoff(&mut self, q: usize, s: usize, seq: u64, success: bool) {
        let Some(policy) = self.profile.queue.push_backoff.value else {
            return;
        };
        let sub = &mut self.queues[q].subs[s];
        if success {
            sub.backoff = None;
            return;
        }
        let initial = Duration::from_millis(policy.initial_ms);
        let max = Duration::from_millis(policy.max_ms);
        let delay = sub.backoff.map_or(initial, |b| (b * 2).min(max));
        sub.backoff = Some(delay);
        let until =
            self.now() + chrono::Duration::from_std(delay).unwrap_or(chrono::TimeDelta::MAX);
        if self.queues[q].subs[s].paused_until.is_none() {
            self.schedule_at(until, Timer::PushResume { queue: q, sub: s });
        }
        self.queues[q].subs[s].paused_until = Some(until);
        let (queue_id, sub_name) = (
            self.queues[q].id.clone(),
            self.queues[q].subs[s].name.clone(),
        );
        let subject = self.queues[q].subs[s]
            .msgs
            .get(&seq)
            .map_or_else(|| format!("m-{seq}"), |m| m.id.clone());
        self.record(
            Kind::PushBackoff,
            &queue_id,
            Some(&subject),
            vec![
                ("delay", super::duration_serde::format_duration(delay)),
                ("subscription", sub_name),
                ("cause", self.push_backoff_cause(delay)),
            ],
        );
    }

    /// The end of a push backoff pause: deliveries go on.
    pub(crate) fn on_push_resume(&mut self, q: usize, s: usize) {
        let sub = &mut self.queues[q].subs[s];
        match sub.paused_until {
            Some(until) if until > self.clock.now() => {
                self.schedule_at(until, Timer::PushResume { queue: q, sub: s });
            }
            _ => {
                sub.paused_until = None;
                self.pump_queue(q);
            }
        }
    }
}
