//! The cases: each drives a target through the provider traits and records what it saw. The
//! facts each case expects are the clouds' documented behaviour (cited per case and per
//! platform value), not emulator output.

mod daemon;
mod kv;
mod push;
mod queue;
mod schedule;
mod storage;
mod worker;

use std::time::Duration;

use alien_providers::{
    ErrorKind, Payload, ProviderError, QueueMessage, QueueProvider, ReceiveOptions,
};

use super::{Case, Observation, Target};
use crate::Platform;

/// Every case, in table order.
pub const CASES: &[&Case] = &[
    &queue::ROUNDTRIP,
    &queue::VISIBILITY,
    &queue::NACK,
    &queue::SERVICE_SIZE_LIMIT,
    &queue::MAXIMUM_MESSAGE_SIZE,
    &queue::DEAD_LETTER,
    &queue::INPUT_RULES,
    &push::FAILING_RECEIVER,
    &push::PAST_ACK_DEADLINE,
    &storage::ROUNDTRIP,
    &storage::CHANGE_FEED,
    &storage::NOTIFICATION_TO_QUEUE,
    &schedule::DAILY,
    &schedule::BOTH_DAY_FIELDS,
    &schedule::WEEKDAY_NUMBERING,
    &worker::MISSING_FUNCTION,
    &worker::REQUEST_SIZE,
    &kv::CONDITIONS_AND_SCAN,
    &daemon::LIFECYCLE,
];

/// Why a case produced no observations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseError {
    /// The target has no adapter or resource for what the case needs (e.g. no DynamoDB
    /// adapter, no Scheduler emulator): the cell reads "n/a" with this reason.
    NotCovered(String),
    /// The case could not run to its end.
    Failed(String),
}

impl From<ProviderError> for CaseError {
    fn from(e: ProviderError) -> Self {
        CaseError::Failed(e.to_string())
    }
}

impl From<String> for CaseError {
    fn from(e: String) -> Self {
        CaseError::Failed(e)
    }
}

impl From<&str> for CaseError {
    fn from(e: &str) -> Self {
        CaseError::Failed(e.to_string())
    }
}

/// The outcome of one case on one target.
pub type Outcome = Result<Vec<Observation>, CaseError>;

/// Turns a target's setup failure into a case error: `Unsupported` means the target does not
/// cover the resource.
pub(super) fn setup<T>(result: alien_providers::Result<T>) -> Result<T, CaseError> {
    result.map_err(|e| match e.kind {
        ErrorKind::Unsupported => CaseError::NotCovered(e.message),
        _ => CaseError::Failed(e.to_string()),
    })
}

pub(super) fn obs(what: &str, value: impl Into<String>) -> Observation {
    Observation {
        what: what.to_string(),
        value: value.into(),
    }
}

/// `ok` on success, else the error kind's name.
pub(super) fn kind_or<T>(result: alien_providers::Result<T>, ok: &str) -> String {
    match result {
        Ok(_) => ok.to_string(),
        Err(e) => e.kind.name().to_string(),
    }
}

pub(super) fn describe(payload: &Payload) -> String {
    match payload {
        Payload::Json(v) => format!("json {v}"),
        Payload::Text(t) => format!("text {t}"),
    }
}

/// Receives until something comes back or `tries` polls found nothing (peers need a moment;
/// the emulator answers at once).
pub(super) async fn receive_one<T: Target>(
    target: &T,
    queue: &T::Queue,
    tries: u32,
) -> alien_providers::Result<Option<QueueMessage>> {
    for _ in 0..tries {
        let mut got = queue.receive(ReceiveOptions::new(1)).await?;
        if let Some(m) = got.pop() {
            return Ok(Some(m));
        }
        target.sleep(Duration::from_millis(500)).await;
    }
    Ok(None)
}

/// Runs `case` on `target`; `None` when the case does not apply to the target's platform.
pub async fn run_case<T: Target>(target: &T, case: &Case, run_id: &str) -> Option<Outcome> {
    case.expected(target.platform())?;
    Some(match case.name {
        "queue-roundtrip" => queue::roundtrip(target, run_id).await,
        "queue-visibility" => queue::visibility(target, run_id).await,
        "queue-nack" => queue::nack(target, run_id).await,
        "queue-service-size-limit" => queue::service_size_limit(target, run_id).await,
        "queue-maximum-message-size" => queue::maximum_message_size(target, run_id).await,
        "dead-letter-after-max-deliveries" => queue::dead_letter(target, run_id).await,
        "queue-input-rules" => queue::input_rules(target, run_id).await,
        "pubsub-push-failing-receiver" => push::failing_receiver(target, run_id).await,
        "pubsub-push-past-ack-deadline" => push::past_ack_deadline(target, run_id).await,
        "storage-roundtrip" => storage::roundtrip(target, run_id).await,
        "storage-change-feed" => storage::change_feed(target, run_id).await,
        "storage-notification-to-queue" => storage::notification_to_queue(target, run_id).await,
        "schedule-daily" | "schedule-both-day-fields" => {
            schedule::register(target, case, run_id).await
        }
        "schedule-weekday-numbering" => schedule::weekday_numbering(target, run_id).await,
        "invoke-missing-function" => worker::missing_function(target, run_id).await,
        "invoke-request-size" => worker::request_size(target).await,
        "kv-conditions-and-scan" => kv::conditions_and_scan(target, run_id).await,
        "daemon-lifecycle" => daemon::lifecycle(target).await,
        other => Err(CaseError::Failed(format!("no case named {other}"))),
    })
}

/// The platforms a case about a platform's own queue applies to: Kubernetes has none of its
/// own (an external binding to SQS, Pub/Sub or Service Bus, covered by those columns).
pub(super) const QUEUE_PLATFORMS: &[Platform] = &[
    Platform::Aws,
    Platform::Gcp,
    Platform::Azure,
    Platform::Local,
];

/// Why a queue case does not apply on Kubernetes.
pub(super) const NO_KUBERNETES_QUEUE: &str = "Kubernetes has no queue of its own: the stack binds an external SQS, Pub/Sub or Service Bus queue (upstream-cloud-semantics.md §0b Kubernetes), covered by those columns";

/// The shortest lease each platform accepts, so that cases wait as little as they can: SQS
/// takes 2 s; Pub/Sub ack deadlines are 10..=600 s (Pub/Sub Subscription reference,
/// `ackDeadlineSeconds`); Service Bus lock durations start at 5 s (Service Bus
/// QueueDescription reference, `LockDuration`); the local queue's lease is fixed at 30 s
/// (published-3.3.49.md §4.5, `LEASE_SECONDS`).
pub(super) fn shortest_lease(platform: Platform) -> Duration {
    match platform {
        Platform::Gcp => Duration::from_secs(10),
        Platform::Azure => Duration::from_secs(5),
        Platform::Local => Duration::from_secs(30),
        _ => Duration::from_secs(2),
    }
}

/// The expected error kinds used by the cases exist (a rename would silently change the facts).
#[cfg(test)]
#[test]
fn expected_kinds_are_real_kind_names() {
    use alien_providers::ErrorKind;
    for name in [
        ErrorKind::PayloadTooLarge { size: 0, limit: 0 }.name(),
        ErrorKind::InvalidArgument.name(),
        ErrorKind::NotFound.name(),
    ] {
        assert!(
            CASES
                .iter()
                .flat_map(|c| c.facts.iter())
                .any(|f| f.value == name || f.on.iter().any(|(_, v, _)| *v == name)),
            "{name}"
        );
    }
}
