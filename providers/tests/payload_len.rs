//! `Payload::serialized_len` is exactly the byte length upstream measures: what serde_json
//! writes for JSON, the raw bytes for text (upstream-stack-and-limits.md §6.3).

use alien_providers::Payload;
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<u64>().prop_map(|n| Value::Number(n.into())),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #[test]
    fn json_len_matches_serde_json(value in json_value()) {
        let written = serde_json::to_vec(&value).map(|bytes| bytes.len());
        let payload = Payload::Json(value);
        prop_assert_eq!(Ok(payload.serialized_len()), written.map_err(|e| e.to_string()));
        prop_assert_eq!(payload.to_body().len(), payload.serialized_len());
    }

    #[test]
    fn text_len_is_utf8_byte_len(text in any::<String>()) {
        let payload = Payload::Text(text.clone());
        prop_assert_eq!(payload.serialized_len(), text.len());
        prop_assert_eq!(payload.to_body(), text);
    }
}
