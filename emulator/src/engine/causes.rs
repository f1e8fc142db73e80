//! Why a message comes back, in words, with the numbers the profile gave the engine: the
//! trace's `cause` detail on `lease_expired`, `push_backoff` and `dead_lettered` events, which
//! the console shows on each redelivery ("visibility timeout: 60 s = 6 × timeoutSeconds 10").
//! Sources: upstream-cloud-semantics.md §0 item 2 (SQS visibility), §4.1-§4.2 (ack deadline,
//! peek-lock, abandon, Local lease), peers-2026.md (Pub/Sub push backoff).

use std::time::Duration;

use super::duration_serde::format_duration;
use super::sim::Sim;
use crate::profile::DeliveryModel;

/// Why a leased message became visible again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Release {
    /// Its lease, lock, ack deadline or visibility timeout ran out.
    LeaseRanOut,
    /// The handler failed and the platform hands the message back at once.
    Abandoned,
    /// The app nacked it through its binding.
    Nacked,
    /// A chaos fault ended the lease early.
    Fault(&'static str),
}

impl Release {
    /// The trace's `reason` detail (stable words the scenarios and tools match on).
    pub(crate) fn reason(self, delivery: DeliveryModel) -> &'static str {
        match self {
            Release::LeaseRanOut => match delivery {
                DeliveryModel::Visibility { .. } => "visibility timeout",
                DeliveryModel::AckDeadlinePerSubscription => "ack deadline",
                DeliveryModel::PeekLock { .. } => "lock expired",
                DeliveryModel::Lease { .. } => "lease expired",
            },
            Release::Abandoned => "abandoned",
            Release::Nacked => "nack",
            Release::Fault(what) => what,
        }
    }
}

impl Sim {
    /// The cause of a release of a message of subscription `s` of queue `q` after `deliveries`
    /// deliveries, whose lease lasted `lease` (`None`: taken before a restart, length unknown).
    pub(super) fn release_cause(
        &self,
        q: usize,
        s: usize,
        release: Release,
        lease: Option<Duration>,
        deliveries: u32,
    ) -> String {
        let count = self.delivery_count_words(q, deliveries);
        match release {
            Release::LeaseRanOut => match lease {
                Some(lease) => self.lease_words(q, s, lease, &count),
                None => format!("the lease taken before the restart ran out, {count}"),
            },
            Release::Abandoned => match self.queues[q].subs[s].paused_until {
                Some(until) if until > self.now() => {
                    let pause = (until - self.now()).to_std().unwrap_or_default();
                    format!(
                        "handler failed: pushed again after the push backoff of {}",
                        format_duration(pause)
                    )
                }
                _ => format!("handler failed: abandoned, visible again at once, {count}"),
            },
            Release::Nacked => {
                format!("nacked through the binding: visible again at once, {count}")
            }
            Release::Fault(what) => format!("fault: {what}"),
        }
    }

    /// The cause of a dead letter after `deliveries`.
    pub(super) fn dead_letter_cause(&self, q: usize, deliveries: u32) -> String {
        format!(
            "{}: max deliveries reached",
            self.delivery_count_words(q, deliveries)
        )
    }

    /// The cause of a push backoff pause of `delay` (the profile's doubling policy).
    pub(super) fn push_backoff_cause(&self, delay: Duration) -> String {
        match self.profile.queue.push_backoff.value {
            Some(policy) => format!(
                "push backoff {}: {} after a failed push, doubling per failure up to {}",
                format_duration(delay),
                format_duration(Duration::from_millis(policy.initial_ms)),
                format_duration(Duration::from_millis(policy.max_ms)),
            ),
            None => format!("push backoff {}", format_duration(delay)),
        }
    }

    /// Most deliveries before a dead letter: the queue's redrive or dead-letter policy, else
    /// the profile's (Service Bus MaxDeliveryCount); `None` retries until retention.
    pub(super) fn max_deliveries(&self, q: usize) -> Option<u32> {
        self.queues[q]
            .settings
            .max_receive_count
            .or(self.profile.queue.max_deliveries.value)
    }

    /// "delivery 7 of 10", or "delivery 7" where nothing caps them.
    fn delivery_count_words(&self, q: usize, deliveries: u32) -> String {
        match self.max_deliveries(q) {
            Some(max) => format!("delivery {deliveries} of {max}"),
            None => format!("delivery {deliveries}"),
        }
    }

    /// What the lease was and where its length came from.
    fn lease_words(&self, q: usize, s: usize, lease: Duration, count: &str) -> String {
        let seconds = lease.as_secs();
        let longest = self.queues[q].subs[s]
            .consumers
            .iter()
            .map(|&w| self.workers[w].timeout.as_secs())
            .max();
        match (self.profile.queue.delivery.value, longest) {
            (
                DeliveryModel::Visibility {
                    multiplier,
                    min,
                    max,
                    ..
                },
                Some(t),
            ) => visibility_words(
                seconds,
                u64::from(multiplier),
                t,
                u64::from(min),
                u64::from(max),
            ),
            (DeliveryModel::Visibility { untriggered, .. }, None)
                if seconds == u64::from(untriggered) =>
            {
                format!(
                    "visibility timeout: {seconds} s, the queue's default (no worker triggers on it)"
                )
            }
            (DeliveryModel::Visibility { .. }, None) => format!(
                "visibility timeout: {seconds} s, the queue's or the receive's VisibilityTimeout"
            ),
            (DeliveryModel::AckDeadlinePerSubscription, Some(t)) if t == seconds => {
                format!("ack deadline: {seconds} s = timeoutSeconds {t}")
            }
            (DeliveryModel::AckDeadlinePerSubscription, _) => {
                format!("ack deadline: {seconds} s ran out")
            }
            (DeliveryModel::PeekLock { .. }, _) => {
                format!("lock lost: the {seconds} s lock ran out, {count}")
            }
            (DeliveryModel::Lease { .. }, _) => {
                format!("lease: the {seconds} s lease ran out, {count}")
            }
        }
    }
}

/// SQS: visibility = max(min, min(max, multiplier × timeoutSeconds)); the words name the
/// term that decided it, or the setting that replaced it.
fn visibility_words(seconds: u64, multiplier: u64, timeout: u64, min: u64, max: u64) -> String {
    let raw = multiplier * timeout;
    let product = format!("{multiplier} × timeoutSeconds {timeout}");
    if seconds != raw.clamp(min, max) {
        return format!(
            "visibility timeout: {seconds} s, the queue's or the receive's VisibilityTimeout \
             (the formula gives {} s)",
            raw.clamp(min, max)
        );
    }
    if raw < min {
        format!("visibility timeout: {seconds} s = the {min} s floor ({product} = {raw} s)")
    } else if raw > max {
        format!("visibility timeout: {seconds} s = the {max} s cap ({product} = {raw} s)")
    } else {
        format!("visibility timeout: {seconds} s = {product}")
    }
}
