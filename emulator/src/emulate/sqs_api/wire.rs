//! Request shapes of the SQS JSON protocol (SQS API reference, each action's "Request
//! Syntax"; field names as sent by aws-sdk-rust, boto3 and the aws CLI) and the helpers the
//! replies need: queue URLs and ARNs, body MD5s.

use std::collections::BTreeMap;

use axum::body::Bytes;
use md5::{Digest, Md5};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::SqsError;

/// `Content-Type` of SQS JSON requests and replies.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// The account id in URLs and ARNs (the one moto and LocalStack use too).
pub const ACCOUNT: &str = "000000000000";

/// The region in ARNs.
pub const REGION: &str = "us-east-1";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateQueue {
    pub queue_name: String,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueUrl {
    pub queue_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListQueues {
    pub queue_name_prefix: Option<String>,
}

/// What a `SendMessage` call and each `SendMessageBatch` entry carry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Message {
    pub message_body: String,
    pub delay_seconds: Option<i64>,
    pub message_attributes: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendMessage {
    pub queue_url: String,
    #[serde(flatten)]
    pub message: Message,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendEntry {
    pub id: String,
    #[serde(flatten)]
    pub message: Message,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Batch<E> {
    pub queue_url: String,
    pub entries: Vec<E>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReceiveMessage {
    pub queue_url: String,
    pub max_number_of_messages: Option<i64>,
    pub visibility_timeout: Option<i64>,
    pub wait_time_seconds: Option<i64>,
    #[serde(default)]
    pub attribute_names: Vec<String>,
    #[serde(default)]
    pub message_system_attribute_names: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteMessage {
    pub queue_url: String,
    pub receipt_handle: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteEntry {
    pub id: String,
    pub receipt_handle: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeVisibility {
    pub queue_url: String,
    pub receipt_handle: String,
    pub visibility_timeout: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeVisibilityEntry {
    pub id: String,
    pub receipt_handle: String,
    pub visibility_timeout: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetQueueAttributes {
    pub queue_url: String,
    #[serde(default)]
    pub attribute_names: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueOnly {
    pub queue_url: String,
}

/// Parses a request body into `T` (an empty body is `{}`), naming what is wrong: a missing
/// field is `MissingParameter`, anything else `InvalidParameterValue`.
pub fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, SqsError> {
    let value: Value = if body.is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body)
            .map_err(|e| SqsError::invalid_parameter(format!("malformed JSON body: {e}")))?
    };
    if !value.is_object() {
        return Err(SqsError::invalid_parameter(format!(
            "the request body must be a JSON object, not {value}"
        )));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if let Some(field) = inner
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            let field = if path == "." {
                field.to_string()
            } else {
                format!("{path}.{field}")
            };
            return SqsError::missing_parameter(&field);
        }
        SqsError::invalid_parameter(if path == "." {
            format!("invalid request body: {inner}")
        } else {
            format!("invalid value for {path}: {inner}")
        })
    })
}

/// The queue a `QueueUrl` names: its last path segment, so any host or account works.
pub fn queue_of_url(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

/// `http://<host>/000000000000/<name>`.
pub fn queue_url(host: &str, name: &str) -> String {
    format!("http://{host}/{ACCOUNT}/{name}")
}

/// `arn:aws:sqs:us-east-1:000000000000:<name>`.
pub fn queue_arn(name: &str) -> String {
    format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")
}

/// Lower-case hex MD5 of `body`, as `MD5OfMessageBody` and `MD5OfBody` carry it (SDKs
/// compare it with their own digest of the body).
pub fn md5_hex(body: &str) -> String {
    format!("{:x}", Md5::digest(body.as_bytes()))
}

/// SQS queue names: 1–80 characters, alphanumerics, hyphens and underscores (CreateQueue,
/// `QueueName`; `.fifo` queues are not emulated).
pub fn check_queue_name(name: &str) -> Result<(), SqsError> {
    let valid = (1..=80).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(SqsError::invalid_parameter(format!(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in \
             length (got '{name}')"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // md5("hello") as `md5sum` and Python's hashlib give it; SDKs compare MD5OfMessageBody
    // with their own digest.
    #[test]
    fn md5_is_lower_hex() {
        assert_eq!(md5_hex("hello"), "5d41402abc4b2a76b9719d911017c592");
    }

    #[test]
    fn queue_is_the_last_url_segment() {
        assert_eq!(queue_of_url("http://127.0.0.1:9/000000000000/jobs"), "jobs");
        assert_eq!(queue_of_url("https://sqs.x/1/jobs/"), "jobs");
        assert_eq!(queue_of_url("jobs"), "jobs");
    }

    #[test]
    fn missing_field_is_missing_parameter() {
        let err = parse::<QueueOnly>(&Bytes::from_static(b"{}")).unwrap_err();
        assert_eq!(err.shape, "MissingParameter");
        assert!(err.message.contains("QueueUrl"), "{err}");
        let err = parse::<QueueOnly>(&Bytes::from_static(b"{")).unwrap_err();
        assert_eq!(err.shape, "InvalidParameterValue");
        assert!(err.message.contains("malformed JSON"), "{err}");
    }
}
