//! A simulated queue reached as the platform's service API is: sends are checked against the
//! service's own limit (SQS 1 MiB, Pub/Sub 10 MB, Service Bus 256 KB), not the binding's.

use std::time::Duration;

use alien_providers::{
    MessageId, Payload, QueueAttributes, QueueMessage, QueueProvider, ReceiptHandle,
    ReceiveOptions, Result, SendOutcome,
};

use super::QueueSetup;
use crate::Platform;
use crate::engine::{EmulatedQueue, QueueSettings, SendVia, SharedSim};

/// Queue `id` of `sim` with the case's attributes. Receives take the queue's lease (SQS
/// visibility timeout, Pub/Sub ack deadline, Service Bus lock duration), except on Local,
/// whose queue has no service API: its binding's fixed 30 s lease applies
/// (published-3.3.49.md §4.5, `LEASE_SECONDS`).
pub fn service_queue(sim: SharedSim, id: &str, setup: &QueueSetup) -> Result<ServiceQueue> {
    let platform = sim
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .profile()
        .platform;
    let lease = (platform != Platform::Local).then_some(setup.visibility_timeout);
    sim.lock()
        .unwrap_or_else(|p| p.into_inner())
        .set_queue_settings(
            id,
            QueueSettings {
                visibility_timeout: Some(setup.visibility_timeout),
                max_message_bytes: setup.max_message_bytes,
                max_receive_count: setup.max_receive_count,
                dead_letter_queue: None,
            },
        )?;
    Ok(ServiceQueue {
        queue: EmulatedQueue {
            sim,
            queue: id.into(),
        },
        lease,
    })
}

/// The dead letters as a first receive from an SQS dead-letter queue shows them: the count
/// kept from the source queue plus that receive ("received across all queues", SQS API
/// reference, `ApproximateReceiveCount`).
pub fn dead_letters(queue: &ServiceQueue) -> Result<Vec<QueueMessage>> {
    let sim = queue.queue.sim.lock().unwrap_or_else(|p| p.into_inner());
    Ok(sim
        .dead_letters(&queue.queue.queue)?
        .iter()
        .map(|d| QueueMessage {
            id: MessageId::new(d.id.clone()),
            payload: d.payload.clone().unwrap_or(Payload::Text(String::new())),
            receipt: ReceiptHandle::new(String::new()),
            attempt: d.receive_count + 1,
            enqueued_at: d.at,
            attributes: Default::default(),
        })
        .collect())
}

/// A queue reached through the service API.
pub struct ServiceQueue {
    queue: EmulatedQueue,
    /// The lease a receive takes unless it asks for another.
    lease: Option<Duration>,
}

impl QueueProvider for ServiceQueue {
    async fn send(&self, payload: Payload) -> Result<MessageId> {
        let mut sim = self.queue.sim.lock().unwrap_or_else(|p| p.into_inner());
        Ok(MessageId::new(sim.send(
            &self.queue.queue,
            payload,
            SendVia::Service,
        )?))
    }

    async fn send_batch(&self, payloads: Vec<Payload>) -> Result<Vec<SendOutcome>> {
        let mut outcomes = Vec::new();
        for payload in payloads {
            outcomes.push(SendOutcome::from_send(self.send(payload).await));
        }
        Ok(outcomes)
    }

    async fn receive(&self, mut options: ReceiveOptions) -> Result<Vec<QueueMessage>> {
        options.lease = options.lease.or(self.lease);
        self.queue.receive(options).await
    }

    async fn ack(&self, receipt: &ReceiptHandle) -> Result<()> {
        self.queue.ack(receipt).await
    }

    async fn nack(&self, receipt: &ReceiptHandle) -> Result<()> {
        self.queue.nack(receipt).await
    }

    async fn change_visibility(&self, receipt: &ReceiptHandle, visible_in: Duration) -> Result<()> {
        self.queue.change_visibility(receipt, visible_in).await
    }

    async fn purge(&self) -> Result<()> {
        self.queue.purge().await
    }

    async fn attributes(&self) -> Result<QueueAttributes> {
        self.queue.attributes().await
    }
}
