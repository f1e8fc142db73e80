//! The `local-queue-http` wire format (published-3.3.49.md §4.2).
//!
//! Upstream's request is one enum tagged by `operation`, camelCase variants and fields, with
//! `deny_unknown_fields`. A serde-derived internally tagged enum loses the field path of a
//! type error (its fields are buffered before the variant is known), so the request is
//! decoded in two steps that accept exactly the same documents: the `operation` tag into
//! [`Operation`], then the remaining keys into that operation's field struct, also
//! camelCase with `deny_unknown_fields`, tracking the path so an error names its field
//! (`durationSeconds: invalid value: integer `-1`, expected u32`).

use alien_providers::Payload;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `operation` tag of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) enum Operation {
    Send,
    SendBatch,
    Receive,
    Ack,
    AckBatch,
    Nack,
    Renew,
    Purge,
    Stats,
}

impl Operation {
    /// The wire name, as in the `operation` tag.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Operation::Send => "send",
            Operation::SendBatch => "sendBatch",
            Operation::Receive => "receive",
            Operation::Ack => "ack",
            Operation::AckBatch => "ackBatch",
            Operation::Nack => "nack",
            Operation::Renew => "renew",
            Operation::Purge => "purge",
            Operation::Stats => "stats",
        }
    }
}

/// One decoded request (§4.2).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum QueueRequest {
    Send {
        message: Payload,
    },
    SendBatch {
        messages: Vec<Payload>,
    },
    /// `maxMessages` is a JSON number; wider than the 1..=10 the owner accepts so that an
    /// out-of-range count gets upstream's batch-size error rather than a decode error.
    Receive {
        max_messages: u64,
    },
    Ack {
        receipt: String,
    },
    AckBatch {
        receipts: Vec<String>,
    },
    Nack {
        receipt: String,
    },
    Renew {
        receipt: String,
        duration_seconds: u32,
    },
    Purge,
    Stats,
}

impl QueueRequest {
    /// Decodes a request body; the error text names the offending operation or field.
    pub(super) fn decode(body: &[u8]) -> Result<QueueRequest, String> {
        let envelope: Envelope = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let rest = envelope.fields;
        Ok(match envelope.operation {
            Operation::Send => {
                let SendFields { message } = fields(rest)?;
                QueueRequest::Send { message }
            }
            Operation::SendBatch => {
                let SendBatchFields { messages } = fields(rest)?;
                QueueRequest::SendBatch { messages }
            }
            Operation::Receive => {
                let ReceiveFields { max_messages } = fields(rest)?;
                QueueRequest::Receive { max_messages }
            }
            Operation::Ack => {
                let ReceiptFields { receipt } = fields(rest)?;
                QueueRequest::Ack { receipt }
            }
            Operation::AckBatch => {
                let AckBatchFields { receipts } = fields(rest)?;
                QueueRequest::AckBatch { receipts }
            }
            Operation::Nack => {
                let ReceiptFields { receipt } = fields(rest)?;
                QueueRequest::Nack { receipt }
            }
            Operation::Renew => {
                let RenewFields {
                    receipt,
                    duration_seconds,
                } = fields(rest)?;
                QueueRequest::Renew {
                    receipt,
                    duration_seconds,
                }
            }
            Operation::Purge => {
                let NoFields {} = fields(rest)?;
                QueueRequest::Purge
            }
            Operation::Stats => {
                let NoFields {} = fields(rest)?;
                QueueRequest::Stats
            }
        })
    }

    pub(super) fn operation(&self) -> Operation {
        match self {
            QueueRequest::Send { .. } => Operation::Send,
            QueueRequest::SendBatch { .. } => Operation::SendBatch,
            QueueRequest::Receive { .. } => Operation::Receive,
            QueueRequest::Ack { .. } => Operation::Ack,
            QueueRequest::AckBatch { .. } => Operation::AckBatch,
            QueueRequest::Nack { .. } => Operation::Nack,
            QueueRequest::Renew { .. } => Operation::Renew,
            QueueRequest::Purge => Operation::Purge,
            QueueRequest::Stats => Operation::Stats,
        }
    }
}

/// Step one: the tag, with every other key kept for step two.
#[derive(Deserialize)]
struct Envelope {
    operation: Operation,
    #[serde(flatten)]
    fields: Map<String, Value>,
}

/// Step two: one operation's fields, with the path of any error.
fn fields<T: DeserializeOwned>(rest: Map<String, Value>) -> Result<T, String> {
    serde_path_to_error::deserialize(Value::Object(rest)).map_err(|e| e.to_string())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SendFields {
    message: Payload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SendBatchFields {
    messages: Vec<Payload>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReceiveFields {
    max_messages: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReceiptFields {
    receipt: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AckBatchFields {
    receipts: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RenewFields {
    receipt: String,
    duration_seconds: u32,
}

/// `purge` and `stats` carry nothing but the tag.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoFields {}

/// `Message` (§4.2): all three keys are required by the client.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Message {
    pub payload: Payload,
    pub receipt_handle: String,
    pub attempt: u32,
}

/// `QueueSendResult`, tagged by `status` (§4.2).
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub(super) enum QueueSendResult {
    Sent,
    /// Definitely not accepted.
    Rejected {
        code: String,
        message: String,
    },
    /// Acceptance not known.
    Unknown {
        code: String,
        message: String,
    },
}

/// `QueueAckResult`, tagged by `status` (§4.2).
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub(super) enum QueueAckResult {
    Acknowledged,
    Failed { code: String, message: String },
}

/// The `stats` reply (§4.2, §4.5).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Stats {
    pub total: u64,
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(body: Value) -> Result<QueueRequest, String> {
        QueueRequest::decode(body.to_string().as_bytes())
    }

    /// Every operation as the published client serializes it (§4.2).
    #[test]
    fn decodes_every_operation() {
        let cases = [
            (
                json!({"operation":"send","message":{"type":"text","data":"x"}}),
                QueueRequest::Send {
                    message: Payload::Text("x".into()),
                },
            ),
            (
                json!({"operation":"sendBatch","messages":[{"type":"json","data":1}]}),
                QueueRequest::SendBatch {
                    messages: vec![Payload::Json(json!(1))],
                },
            ),
            (
                json!({"operation":"receive","maxMessages":10}),
                QueueRequest::Receive { max_messages: 10 },
            ),
            (
                json!({"operation":"ack","receipt":"1:2"}),
                QueueRequest::Ack {
                    receipt: "1:2".into(),
                },
            ),
            (
                json!({"operation":"ackBatch","receipts":["1:2","3:4"]}),
                QueueRequest::AckBatch {
                    receipts: vec!["1:2".into(), "3:4".into()],
                },
            ),
            (
                json!({"operation":"nack","receipt":"1:2"}),
                QueueRequest::Nack {
                    receipt: "1:2".into(),
                },
            ),
            (
                json!({"operation":"renew","receipt":"1:2","durationSeconds":60}),
                QueueRequest::Renew {
                    receipt: "1:2".into(),
                    duration_seconds: 60,
                },
            ),
            (json!({"operation":"purge"}), QueueRequest::Purge),
            (json!({"operation":"stats"}), QueueRequest::Stats),
        ];
        for (body, expected) in cases {
            let decoded = decode(body.clone()).unwrap();
            assert_eq!(
                decoded.operation().as_str(),
                body["operation"].as_str().unwrap()
            );
            assert_eq!(decoded, expected);
        }
    }

    #[test]
    fn errors_name_the_field() {
        let err = |body: Value| decode(body).unwrap_err();
        assert_eq!(
            err(json!({"operation":"renew","receipt":"1:2","durationSeconds":-1})),
            "durationSeconds: invalid value: integer `-1`, expected u32"
        );
        assert!(
            err(json!({"operation":"sendBatch","messages":[{"type":"text","data":"a"},{"type":"text","data":2}]}))
                .starts_with("messages[1]"),
        );
        assert!(err(json!({"operation":"ack"})).contains("missing field `receipt`"));
        assert!(err(json!({"operation":"stats","x":1})).contains("unknown field `x`"));
        assert!(err(json!({"operation":"Send"})).contains("unknown variant `Send`"));
        assert!(err(json!(["send"])).contains("invalid type"));
    }
}
