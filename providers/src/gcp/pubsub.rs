//! Pub/Sub resources provisioned as upstream does on GCP: a queue is topic `{name}` plus the
//! pull subscription `{name}-sub`; a worker trigger is a push subscription on that topic
//! with ack deadline = the worker's timeout and no retry or dead-letter policy
//! (upstream-cloud-semantics.md §0b GCP, §4.1, §4.2).

use std::time::Duration;

use google_cloud_pubsub::model::{DeadLetterPolicy, PushConfig};

use super::config::GcpClients;
use super::error::map_gcp_error;
use super::queue::GcpQueue;
use crate::error::Result;
use crate::limits::MAX_MESSAGE_BYTES;

/// Pub/Sub's ack deadline range, 10..=600 s (Subscription reference, `ackDeadlineSeconds`).
pub const ACK_DEADLINE_RANGE: (u64, u64) = (10, 600);

/// How to provision a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubSubQueueSpec {
    /// Topic id; upstream names it `{prefix}-{id}` (upstream-cloud-semantics.md §10).
    pub name: String,
    /// Ack deadline of the pull subscription `{name}-sub` (whole seconds). Upstream leaves
    /// it at the provider default, 10 s (§4.1).
    pub ack_deadline: Duration,
    /// With a value: dead-letter topic `{name}-dlq` with pull subscription `{name}-dlq-sub`,
    /// and a `DeadLetterPolicy` with this `maxDeliveryAttempts` (5..=100 on the real
    /// service) on `{name}-sub`. Upstream provisions none; this is for tests of
    /// `deliveryAttempt` and dead-lettering.
    pub dead_letter_after: Option<u32>,
}

impl PubSubQueueSpec {
    /// Upstream's queue: subscription at the provider-default 10 s ack deadline, no
    /// dead-letter topic (upstream-cloud-semantics.md §4.1).
    pub fn upstream(name: &str) -> Self {
        PubSubQueueSpec {
            name: name.to_owned(),
            ack_deadline: Duration::from_secs(ACK_DEADLINE_RANGE.0),
            dead_letter_after: None,
        }
    }
}

impl GcpClients {
    /// Provisions `spec` (dead-letter topic and subscription first, when asked for) and
    /// returns the queue with upstream's 64 KiB binding check on send. An existing topic or
    /// subscription is `AlreadyExists`.
    pub async fn create_queue(&self, spec: &PubSubQueueSpec) -> Result<GcpQueue> {
        let pubsub = self.pubsub()?;
        let topic = self.topic_path(&spec.name);
        let subscription = self.subscription_path(&format!("{}-sub", spec.name));
        let mut create = pubsub
            .subscriptions
            .create_subscription()
            .set_name(&subscription)
            .set_topic(&topic)
            .set_ack_deadline_seconds(seconds(spec.ack_deadline));
        let mut dead_letter_subscription = None;
        if let Some(attempts) = spec.dead_letter_after {
            let dlq_topic = self.topic_path(&format!("{}-dlq", spec.name));
            let dlq_subscription = self.subscription_path(&format!("{}-dlq-sub", spec.name));
            self.create_topic(&dlq_topic).await?;
            self.create_pull_subscription(&dlq_subscription, &dlq_topic, None)
                .await?;
            create = create.set_dead_letter_policy(
                DeadLetterPolicy::new()
                    .set_dead_letter_topic(dlq_topic)
                    .set_max_delivery_attempts(i32::try_from(attempts).unwrap_or(i32::MAX)),
            );
            dead_letter_subscription = Some(dlq_subscription);
        }
        self.create_topic(&topic).await?;
        create
            .send()
            .await
            .map_err(|e| map_gcp_error("pubsub.subscriptions.create", None, e))?;
        Ok(GcpQueue::new(
            pubsub,
            topic,
            subscription,
            dead_letter_subscription,
            spec.ack_deadline,
            Some(MAX_MESSAGE_BYTES),
        ))
    }

    /// A pull subscription `subscription` (full name) on `topic` (full name), with this ack
    /// deadline or the service's default (10 s).
    pub(super) async fn create_pull_subscription(
        &self,
        subscription: &str,
        topic: &str,
        ack_deadline: Option<Duration>,
    ) -> Result<()> {
        let mut create = self
            .pubsub()?
            .subscriptions
            .create_subscription()
            .set_name(subscription)
            .set_topic(topic);
        if let Some(deadline) = ack_deadline {
            create = create.set_ack_deadline_seconds(seconds(deadline));
        }
        create
            .send()
            .await
            .map_err(|e| map_gcp_error("pubsub.subscriptions.create", None, e))?;
        Ok(())
    }

    /// Upstream's per-trigger push subscription `name` on the queue's topic: push endpoint
    /// `push_endpoint`, ack deadline = the worker timeout (passed unclamped, as upstream
    /// does, §4.3: outside 10..=600 s the service refuses it), no retry policy, no
    /// dead-letter policy, no OIDC token (the emulator cannot mint one). Returns the
    /// subscription's full name.
    pub async fn create_push_subscription(
        &self,
        queue: &GcpQueue,
        name: &str,
        push_endpoint: &str,
        ack_deadline: Duration,
    ) -> Result<String> {
        let pubsub = self.pubsub()?;
        let subscription = self.subscription_path(name);
        pubsub
            .subscriptions
            .create_subscription()
            .set_name(&subscription)
            .set_topic(queue.topic())
            .set_push_config(PushConfig::new().set_push_endpoint(push_endpoint))
            .set_ack_deadline_seconds(seconds(ack_deadline))
            .send()
            .await
            .map_err(|e| map_gcp_error("pubsub.subscriptions.create", None, e))?;
        Ok(subscription)
    }

    /// Deletes the queue's subscriptions and topics (dead-letter ones included). Push
    /// subscriptions on the topic are detached by the service, not deleted.
    pub async fn delete_queue(&self, queue: &GcpQueue) -> Result<()> {
        let pubsub = self.pubsub()?;
        for subscription in
            std::iter::once(queue.subscription()).chain(queue.dead_letter_subscription())
        {
            pubsub
                .subscriptions
                .delete_subscription()
                .set_subscription(subscription)
                .send()
                .await
                .map_err(|e| map_gcp_error("pubsub.subscriptions.delete", None, e))?;
        }
        let dead_letter_topic = queue
            .dead_letter_subscription()
            .map(|_| format!("{}-dlq", queue.topic()));
        for topic in std::iter::once(queue.topic().to_owned()).chain(dead_letter_topic) {
            pubsub
                .topics
                .delete_topic()
                .set_topic(topic)
                .send()
                .await
                .map_err(|e| map_gcp_error("pubsub.topics.delete", None, e))?;
        }
        Ok(())
    }

    /// Creates topic `path` (`projects/{p}/topics/{id}`).
    pub(super) async fn create_topic(&self, path: &str) -> Result<()> {
        self.pubsub()?
            .topics
            .create_topic()
            .set_name(path)
            .send()
            .await
            .map_err(|e| map_gcp_error("pubsub.topics.create", None, e))?;
        Ok(())
    }
}

/// Whole seconds as Pub/Sub's `int32` fields take them (rounded down, saturating).
fn seconds(duration: Duration) -> i32 {
    i32::try_from(duration.as_secs()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    // upstream-cloud-semantics.md §4.1: the pull subscription keeps the provider default
    // ack deadline (10 s) and there is no dead-letter policy.
    #[test]
    fn upstream_spec_uses_provider_defaults() {
        assert_eq!(
            PubSubQueueSpec::upstream("stack-jobs"),
            PubSubQueueSpec {
                name: "stack-jobs".into(),
                ack_deadline: Duration::from_secs(10),
                dead_letter_after: None,
            }
        );
    }

    #[test]
    fn seconds_saturate() {
        assert_eq!(seconds(Duration::from_millis(10_900)), 10);
        assert_eq!(seconds(Duration::from_secs(u64::MAX)), i32::MAX);
    }
}
