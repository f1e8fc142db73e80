//! Value types shared by several provider traits.

use std::fmt;
use std::io;

use serde::{Deserialize, Serialize};

/// A queue message body: JSON or text.
///
/// Serialized adjacently tagged, `{"type":"json","data":…}` / `{"type":"text","data":"…"}`,
/// the shape of upstream's `local-queue-http` wire payload (published-3.3.49.md §4.2), which
/// unlike the internally tagged trait enum can carry JSON scalars and text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "lowercase")]
pub enum Payload {
    /// Any JSON value, scalars included.
    Json(serde_json::Value),
    /// Raw UTF-8 text.
    Text(String),
}

impl Payload {
    /// The byte length upstream measures against `MAX_MESSAGE_BYTES`: the serialized JSON
    /// (compact, as `serde_json` writes it) or the raw text (upstream-stack-and-limits.md §6.3;
    /// published-3.3.49.md §11). Counts without allocating the body.
    pub fn serialized_len(&self) -> usize {
        match self {
            Self::Json(value) => {
                let mut counter = ByteCounter(0);
                match serde_json::to_writer(&mut counter, value) {
                    Ok(()) => counter.0,
                    // Writing a `Value` to an infallible writer cannot fail; fall back to the
                    // allocating path rather than panic if serde_json ever changes that.
                    Err(_) => value.to_string().len(),
                }
            }
            Self::Text(text) => text.len(),
        }
    }

    /// The message body as sent to a cloud queue (e.g. SQS `MessageBody`): the serialized
    /// JSON or the raw text. Its length is [`Payload::serialized_len`].
    pub fn to_body(&self) -> String {
        match self {
            Self::Json(value) => value.to_string(),
            Self::Text(text) => text.clone(),
        }
    }

    /// Reads a body received from a cloud queue the way upstream's providers do: JSON if it
    /// parses as JSON, text otherwise (upstream-stack-and-limits.md §6.3).
    pub fn from_body(body: &str) -> Self {
        serde_json::from_str(body).map_or_else(|_| Self::Text(body.to_owned()), Self::Json)
    }
}

/// An `io::Write` that only counts bytes.
struct ByteCounter(usize);

impl io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Defines an opaque string identifier newtype.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a provider-issued value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The provider-issued value.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Unwraps the provider-issued value.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }
    };
}

string_id!(
    /// Identifier a queue assigns to a sent message (SQS `MessageId`; the emulator's own id).
    /// Stable across redeliveries.
    MessageId
);

string_id!(
    /// Handle for one delivery (lease) of a message; a redelivery issues a new one and the
    /// old one becomes stale (published-3.3.49.md §4.5). Opaque to callers.
    ReceiptHandle
);

string_id!(
    /// Identifier of a registered schedule (EventBridge rule name, emulator id…).
    ScheduleId
);

string_id!(
    /// Position in a storage change feed; see `StorageProvider::changes_since`.
    ChangeCursor
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // upstream-stack-and-limits.md §6.3: the limit applies to the serialized JSON body.
    #[test]
    fn json_len_is_compact_serialization() {
        let payload = Payload::Json(json!({"a": [1, 2], "b": "é"}));
        assert_eq!(payload.to_body(), r#"{"a":[1,2],"b":"é"}"#);
        assert_eq!(payload.serialized_len(), r#"{"a":[1,2],"b":"é"}"#.len());
    }

    // A JSON string payload is measured with its quotes; a text payload without.
    #[test]
    fn text_and_json_string_differ() {
        assert_eq!(Payload::Text("abc".into()).serialized_len(), 3);
        assert_eq!(Payload::Json(json!("abc")).serialized_len(), 5);
    }

    // published-3.3.49.md §4.2: adjacently tagged wire shape.
    #[test]
    fn serde_shape_is_adjacently_tagged() {
        assert_eq!(
            serde_json::to_value(Payload::Json(json!(42))).ok(),
            Some(json!({"type": "json", "data": 42}))
        );
        assert_eq!(
            serde_json::to_value(Payload::Text("hi".into())).ok(),
            Some(json!({"type": "text", "data": "hi"}))
        );
        let back: Option<Payload> =
            serde_json::from_value(json!({"type": "text", "data": "hi"})).ok();
        assert_eq!(back, Some(Payload::Text("hi".into())));
    }

    // upstream-stack-and-limits.md §6.3: bodies that parse as JSON are Json, else Text.
    #[test]
    fn from_body_infers_json_then_text() {
        assert_eq!(
            Payload::from_body(r#"{"k":1}"#),
            Payload::Json(json!({"k": 1}))
        );
        assert_eq!(Payload::from_body("7"), Payload::Json(json!(7)));
        assert_eq!(Payload::from_body("hello"), Payload::Text("hello".into()));
    }

    #[test]
    fn string_ids_are_transparent() {
        let receipt = ReceiptHandle::from("12:abc");
        assert_eq!(receipt.as_str(), "12:abc");
        assert_eq!(receipt.to_string(), "12:abc");
        assert_eq!(serde_json::to_value(&receipt).ok(), Some(json!("12:abc")));
        assert_eq!(receipt.into_string(), "12:abc");
    }
}
