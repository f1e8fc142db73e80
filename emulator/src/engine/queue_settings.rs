//! Queue attributes a deployment sets on the service itself (SQS `VisibilityTimeout`,
//! `MaximumMessageSize`, `RedrivePolicy`), over what the profile derives from the stack, and
//! queues created through the service API.

use std::time::Duration;

use super::sim::{Sim, SimError};

/// Queue attributes set on the service itself, over the profile's derived ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueSettings {
    /// The lease a receive takes when it names none (SQS `VisibilityTimeout`).
    pub visibility_timeout: Option<Duration>,
    /// Largest accepted message (SQS `MaximumMessageSize`), capped by the service's limit.
    pub max_message_bytes: Option<u64>,
    /// Deliveries before the message moves to the dead-letter queue (a redrive policy's
    /// `maxReceiveCount`).
    pub max_receive_count: Option<u32>,
    /// The queue exhausted messages move to (a redrive policy's `deadLetterTargetArn`);
    /// `None`: they stay with this queue as its dead letters.
    pub dead_letter_queue: Option<String>,
}

impl Sim {
    /// Applies queue-level attributes a deployment may set on the service itself (SQS
    /// `VisibilityTimeout`, `MaximumMessageSize`, a redrive policy's `maxReceiveCount`),
    /// over what the profile derives from the stack.
    pub fn set_queue_settings(
        &mut self,
        queue: &str,
        settings: QueueSettings,
    ) -> Result<(), SimError> {
        let q = self.queue_idx(queue)?;
        if let Some(visibility) = settings.visibility_timeout {
            for sub in &mut self.queues[q].subs {
                sub.lease = visibility;
            }
        }
        self.queues[q].settings = settings;
        Ok(())
    }

    /// The attributes set with [`Sim::set_queue_settings`] (defaults when none were).
    pub fn queue_settings(&self, queue: &str) -> Result<QueueSettings, SimError> {
        Ok(self.queues[self.queue_idx(queue)?].settings.clone())
    }

    /// Adds a queue the stack does not declare and no worker consumes (SQS `CreateQueue` of
    /// a new name), with `settings` applied. It lives until the process ends: a restore
    /// rebuilds only the stack's queues. Fails when the name is already taken.
    pub fn create_queue(&mut self, name: &str, settings: QueueSettings) -> Result<(), SimError> {
        if self.queue_index.contains_key(name) {
            return Err(SimError::Invalid(format!(
                "queue name '{name}' is already in use"
            )));
        }
        let subs = self.subscriptions_for(name, &[]);
        self.add_queue(name.to_string(), false, subs);
        self.set_queue_settings(name, settings)
    }
}
