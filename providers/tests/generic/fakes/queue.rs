use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use alien_providers::limits::{DEFAULT_LEASE, MAX_MESSAGE_BYTES};
use alien_providers::validate::{
    validate_message_size, validate_receive_batch, validate_renew_duration,
};
use alien_providers::{
    MessageId, Payload, ProviderError, QueueAttributes, QueueMessage, QueueProvider, ReceiptHandle,
    ReceiveOptions, Result,
};
use chrono::{DateTime, Utc};

struct Stored {
    id: u64,
    payload: Payload,
    attempt: u32,
    /// Seconds after the epoch; the fake's clock is always 0.
    visible_at: u64,
    receipt: Option<String>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    messages: Vec<Stored>,
}

/// FIFO queue with receipts `"{id}:{attempt}"` (the local queue's shape, published §4.5).
#[derive(Default)]
pub struct MemQueue(Mutex<State>);

/// Splits a receipt into message id and delivery tag; `None` if unparseable.
fn parse(receipt: &ReceiptHandle) -> Option<(u64, &str)> {
    let (id, tag) = receipt.as_str().split_once(':')?;
    Some((id.parse().ok()?, tag))
}

impl MemQueue {
    /// Applies `update` to the message currently leased under `receipt`. A gone message is
    /// `Ok` (idempotent); a redelivered one is stale.
    fn with_lease(
        &self,
        receipt: &ReceiptHandle,
        update: impl FnOnce(&mut State, usize),
    ) -> Result<()> {
        let Some((id, _)) = parse(receipt) else {
            return Ok(());
        };
        let mut state = super::lock(&self.0);
        let Some(index) = state.messages.iter().position(|m| m.id == id) else {
            return Ok(());
        };
        if state.messages[index].receipt.as_deref() != Some(receipt.as_str()) {
            return Err(ProviderError::stale_receipt(id));
        }
        update(&mut state, index);
        Ok(())
    }
}

impl QueueProvider for MemQueue {
    async fn send(&self, payload: Payload) -> Result<MessageId> {
        validate_message_size(&payload, MAX_MESSAGE_BYTES)?;
        let mut state = super::lock(&self.0);
        state.next_id += 1;
        let id = state.next_id;
        state.messages.push(Stored {
            id,
            payload,
            attempt: 0,
            visible_at: 0,
            receipt: None,
        });
        Ok(MessageId::new(id.to_string()))
    }

    async fn receive(&self, options: ReceiveOptions) -> Result<Vec<QueueMessage>> {
        validate_receive_batch(options.max_messages)?;
        let lease = options.lease.unwrap_or(DEFAULT_LEASE).as_secs();
        let mut state = super::lock(&self.0);
        let due = state.messages.iter_mut().filter(|m| m.visible_at == 0);
        Ok(due
            .take(options.max_messages as usize)
            .map(|m| {
                m.attempt += 1;
                m.visible_at = lease;
                let receipt = format!("{}:{}", m.id, m.attempt);
                m.receipt = Some(receipt.clone());
                QueueMessage {
                    id: MessageId::new(m.id.to_string()),
                    payload: m.payload.clone(),
                    receipt: ReceiptHandle::new(receipt),
                    attempt: m.attempt,
                    enqueued_at: DateTime::<Utc>::UNIX_EPOCH,
                    attributes: BTreeMap::new(),
                }
            })
            .collect())
    }

    async fn ack(&self, receipt: &ReceiptHandle) -> Result<()> {
        self.with_lease(receipt, |state, index| {
            state.messages.remove(index);
        })
    }

    async fn nack(&self, receipt: &ReceiptHandle) -> Result<()> {
        self.with_lease(receipt, |state, index| state.messages[index].visible_at = 0)
    }

    async fn change_visibility(&self, receipt: &ReceiptHandle, visible_in: Duration) -> Result<()> {
        validate_renew_duration(visible_in)?;
        // Renew is stricter than ack/nack: gone, unparseable or expired leases are all stale
        // (published-3.3.49.md §4.5).
        let id = parse(receipt).map_or(0, |(id, _)| id);
        let mut state = super::lock(&self.0);
        let held = state.messages.iter_mut().find(|m| {
            m.id == id && m.visible_at > 0 && m.receipt.as_deref() == Some(receipt.as_str())
        });
        match held {
            Some(message) => {
                message.visible_at = visible_in.as_secs();
                Ok(())
            }
            None => Err(ProviderError::stale_receipt(id)),
        }
    }

    async fn purge(&self) -> Result<()> {
        super::lock(&self.0).messages.clear();
        Ok(())
    }

    async fn attributes(&self) -> Result<QueueAttributes> {
        let state = super::lock(&self.0);
        let visible = state.messages.iter().filter(|m| m.visible_at == 0).count() as u64;
        Ok(QueueAttributes {
            approximate_visible: visible,
            approximate_in_flight: state.messages.len() as u64 - visible,
            approximate_delayed: 0,
            visibility_timeout: DEFAULT_LEASE,
            retention: None,
            max_message_bytes: MAX_MESSAGE_BYTES as u64,
            dead_letter_count: None,
        })
    }
}
