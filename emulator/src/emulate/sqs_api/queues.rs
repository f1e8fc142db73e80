//! Queue-level operations: CreateQueue, GetQueueUrl, ListQueues, GetQueueAttributes,
//! PurgeQueue (SQS API reference, each action's "Request Parameters" and "Response
//! Elements").

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::error::SqsError;
use super::wire::{
    CreateQueue, GetQueueAttributes, GetQueueUrl, ListQueues, QueueOnly, check_queue_name,
    queue_arn, queue_of_url, queue_url,
};
use super::{MAX_VISIBILITY_SECONDS, fail};
use crate::engine::{QueueSettings, Sim};

/// `MaximumMessageSize` bounds (SQS API reference, SetQueueAttributes).
const MESSAGE_SIZE_RANGE: std::ops::RangeInclusive<u64> = 1_024..=1_048_576;

pub(super) fn create_queue(sim: &mut Sim, host: &str, req: CreateQueue) -> Result<Value, SqsError> {
    let name = req.queue_name.as_str();
    check_queue_name(name)?;
    if sim.queue_names().iter().any(|q| q == name) {
        // An existing queue takes the attributes given (real SQS would refuse different ones
        // with QueueAlreadyExists; the emulator lets a deployment's CreateQueue configure it).
        if !req.attributes.is_empty() {
            let current = sim.queue_settings(name).map_err(fail(sim, name))?;
            let settings = settings_from(sim, name, &req.attributes, current)?;
            sim.set_queue_settings(name, settings)
                .map_err(fail(sim, name))?;
        }
    } else {
        let settings = settings_from(sim, name, &req.attributes, QueueSettings::default())?;
        sim.create_queue(name, settings).map_err(fail(sim, name))?;
    }
    Ok(json!({ "QueueUrl": queue_url(host, name) }))
}

/// `base` with the CreateQueue attributes of queue `queue` applied.
fn settings_from(
    sim: &Sim,
    queue: &str,
    attributes: &BTreeMap<String, String>,
    mut base: QueueSettings,
) -> Result<QueueSettings, SqsError> {
    for (name, value) in attributes {
        let number = |range: std::ops::RangeInclusive<u64>| {
            value.parse::<u64>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
                SqsError::invalid_attribute_value(format!(
                    "Invalid value for the parameter {name}: '{value}' (must be between {} and {})",
                    range.start(),
                    range.end()
                ))
            })
        };
        match name.as_str() {
            "VisibilityTimeout" => {
                let seconds = number(0..=MAX_VISIBILITY_SECONDS as u64)?;
                base.visibility_timeout = Some(Duration::from_secs(seconds));
            }
            "MaximumMessageSize" => base.max_message_bytes = Some(number(MESSAGE_SIZE_RANGE)?),
            "RedrivePolicy" => {
                let (target, max) = redrive_policy(sim, queue, value)?;
                base.dead_letter_queue = Some(target);
                base.max_receive_count = Some(max);
            }
            other => {
                return Err(SqsError::invalid_attribute_name(format!(
                    "Unknown or unsupported attribute {other} (the emulator's SQS endpoint \
                     supports VisibilityTimeout, MaximumMessageSize and RedrivePolicy)"
                )));
            }
        }
    }
    Ok(base)
}

/// `maxReceiveCount` bounds (SQS developer guide, "Using dead-letter queues").
const MAX_RECEIVE_COUNT_RANGE: std::ops::RangeInclusive<u64> = 1..=1_000;

/// A `RedrivePolicy` value: `{"deadLetterTargetArn": ARN, "maxReceiveCount": N}` (SQS API
/// reference, SetQueueAttributes), with `N` a number or a string. The target must be another
/// existing queue. Returns its name and the count.
fn redrive_policy(sim: &Sim, queue: &str, value: &str) -> Result<(String, u32), SqsError> {
    let invalid = |reason: &str| {
        SqsError::invalid_attribute_value(format!(
            "Value {value} for parameter RedrivePolicy is invalid. Reason: {reason}"
        ))
    };
    let policy: Value = serde_json::from_str(value).map_err(|_| invalid("not a JSON object"))?;
    let arn = policy["deadLetterTargetArn"]
        .as_str()
        .ok_or_else(|| invalid("deadLetterTargetArn is missing"))?;
    let max = match &policy["maxReceiveCount"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .filter(|n| MAX_RECEIVE_COUNT_RANGE.contains(n))
    .ok_or_else(|| invalid("maxReceiveCount must be between 1 and 1000"))?;
    let target = arn.rsplit(':').next().unwrap_or_default();
    if target == queue {
        return Err(invalid("a queue cannot be its own dead-letter queue"));
    }
    if !sim.queue_names().iter().any(|q| q == target) {
        return Err(invalid("Dead letter target does not exist."));
    }
    Ok((target.to_string(), max as u32))
}

pub(super) fn get_queue_url(sim: &Sim, host: &str, req: GetQueueUrl) -> Result<Value, SqsError> {
    let names = sim.queue_names();
    if names.contains(&req.queue_name) {
        Ok(json!({ "QueueUrl": queue_url(host, &req.queue_name) }))
    } else {
        Err(SqsError::no_queue(&req.queue_name, &names))
    }
}

pub(super) fn list_queues(sim: &Sim, host: &str, req: ListQueues) -> Value {
    let prefix = req.queue_name_prefix.unwrap_or_default();
    let urls: Vec<String> = sim
        .queue_names()
        .into_iter()
        .filter(|name| name.starts_with(&prefix))
        .map(|name| queue_url(host, &name))
        .collect();
    json!({ "QueueUrls": urls })
}

pub(super) fn get_queue_attributes(sim: &Sim, req: GetQueueAttributes) -> Result<Value, SqsError> {
    let queue = queue_of_url(&req.queue_url);
    let stats = sim.queue_stats(queue).map_err(fail(sim, queue))?;
    let settings = sim.queue_settings(queue).map_err(fail(sim, queue))?;
    let visibility = sim.visibility_timeout(queue).map_err(fail(sim, queue))?;
    let limit = sim.profile().queue.service_message_max_bytes.value;
    let mut all = vec![
        ("ApproximateNumberOfMessages", stats.visible.to_string()),
        (
            "ApproximateNumberOfMessagesNotVisible",
            stats.in_flight.to_string(),
        ),
        ("ApproximateNumberOfMessagesDelayed", "0".to_string()),
        ("VisibilityTimeout", visibility.as_secs().to_string()),
        (
            "MaximumMessageSize",
            settings
                .max_message_bytes
                .map_or(limit, |own| own.min(limit))
                .to_string(),
        ),
        ("QueueArn", queue_arn(queue)),
    ];
    if let (Some(target), Some(max)) = (&settings.dead_letter_queue, settings.max_receive_count) {
        let policy = json!({"deadLetterTargetArn": queue_arn(target), "maxReceiveCount": max});
        all.push(("RedrivePolicy", policy.to_string()));
    }
    if let Some(retention) = sim.profile().queue.retention_seconds.value {
        all.push(("MessageRetentionPeriod", retention.to_string()));
    }
    let wanted = |name: &str| req.attribute_names.iter().any(|n| n == "All" || n == name);
    let attributes: serde_json::Map<String, Value> = all
        .into_iter()
        .filter(|(name, _)| wanted(name))
        .map(|(name, value)| (name.to_string(), Value::String(value)))
        .collect();
    Ok(json!({ "Attributes": attributes }))
}

pub(super) fn purge_queue(sim: &mut Sim, req: QueueOnly) -> Result<Value, SqsError> {
    let queue = queue_of_url(&req.queue_url);
    sim.purge(queue).map_err(fail(sim, queue))?;
    Ok(json!({}))
}
