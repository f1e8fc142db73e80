//! What a faulty run's end state has that the clean run's has not: KV values, objects, and
//! counts of messages the app sent (with the inputs whose handling sent a different number).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use super::end_state::{EndState, ObjectDigest};
use super::workload::plural;
use crate::engine::etag_of;

/// Longest KV text shown as is; longer values are cut.
const SHOWN_CHARS: usize = 60;

/// A KV value as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Shown {
    /// UTF-8 text (cut after [`SHOWN_CHARS`] characters, with `…`).
    Text(String),
    /// Anything else: its size and MD5.
    Bytes { bytes: usize, md5: String },
}

impl Shown {
    pub fn of(value: &[u8]) -> Shown {
        match std::str::from_utf8(value) {
            Ok(text) if text.chars().count() > SHOWN_CHARS => Shown::Text(format!(
                "{}…",
                text.chars().take(SHOWN_CHARS).collect::<String>()
            )),
            Ok(text) => Shown::Text(text.to_string()),
            Err(_) => Shown::Bytes {
                bytes: value.len(),
                md5: etag_of(value).trim_matches('"').to_string(),
            },
        }
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shown::Text(text) => write!(f, "{text:?}"),
            Shown::Bytes { bytes, md5 } => {
                write!(
                    f,
                    "<{bytes} {}, md5 {md5}>",
                    plural(*bytes, "byte", "bytes")
                )
            }
        }
    }
}

/// Messages the app sent during one input's handling, when that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputSends {
    /// The input's number (1-based, in sending order).
    pub input: usize,
    pub clean: usize,
    pub faulty: usize,
}

/// One difference; `clean` is the clean run's side, `faulty` the faulty run's (None: absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Difference {
    Kv {
        store: String,
        key: String,
        clean: Option<Shown>,
        faulty: Option<Shown>,
    },
    Object {
        bucket: String,
        key: String,
        clean: Option<ObjectDigest>,
        faulty: Option<ObjectDigest>,
    },
    Sent {
        queue: String,
        clean: usize,
        faulty: usize,
        inputs: Vec<InputSends>,
    },
}

impl Difference {
    /// The resource it is about (a KV store, bucket or queue).
    pub fn resource(&self) -> &str {
        match self {
            Difference::Kv { store, .. } => store,
            Difference::Object { bucket, .. } => bucket,
            Difference::Sent { queue, .. } => queue,
        }
    }
}

/// Keys present on either side whose values differ, with both sides.
fn changed<'a, V: PartialEq>(
    clean: &'a BTreeMap<String, V>,
    faulty: &'a BTreeMap<String, V>,
) -> impl Iterator<Item = (&'a String, Option<&'a V>, Option<&'a V>)> {
    let keys: BTreeSet<&String> = clean.keys().chain(faulty.keys()).collect();
    keys.into_iter().filter_map(move |key| {
        let (a, b) = (clean.get(key), faulty.get(key));
        (a != b).then_some((key, a, b))
    })
}

/// Every difference of `faulty` from `clean`: KV first, then objects, then messages sent.
pub fn differences(clean: &EndState, faulty: &EndState) -> Vec<Difference> {
    let mut out = Vec::new();
    let empty = BTreeMap::new();
    let stores: BTreeSet<&String> = clean.kv.keys().chain(faulty.kv.keys()).collect();
    for store in stores {
        let (a, b) = (
            clean.kv.get(store).unwrap_or(&empty),
            faulty.kv.get(store).unwrap_or(&empty),
        );
        out.extend(changed(a, b).map(|(key, a, b)| Difference::Kv {
            store: store.clone(),
            key: key.clone(),
            clean: a.map(|v| Shown::of(v)),
            faulty: b.map(|v| Shown::of(v)),
        }));
    }
    let no_objects = BTreeMap::new();
    let buckets: BTreeSet<&String> = clean.objects.keys().chain(faulty.objects.keys()).collect();
    for bucket in buckets {
        let (a, b) = (
            clean.objects.get(bucket).unwrap_or(&no_objects),
            faulty.objects.get(bucket).unwrap_or(&no_objects),
        );
        out.extend(changed(a, b).map(|(key, a, b)| Difference::Object {
            bucket: bucket.clone(),
            key: key.clone(),
            clean: a.cloned(),
            faulty: b.cloned(),
        }));
    }
    let queues: BTreeSet<&String> = clean.sent.keys().chain(faulty.sent.keys()).collect();
    for queue in queues {
        let (a, b) = (
            clean.sent.get(queue).cloned().unwrap_or_default(),
            faulty.sent.get(queue).cloned().unwrap_or_default(),
        );
        if a.total == b.total {
            continue;
        }
        let numbers: BTreeSet<&usize> = a.after_input.keys().chain(b.after_input.keys()).collect();
        let inputs = numbers
            .into_iter()
            .map(|&input| InputSends {
                input,
                clean: a.after_input.get(&input).copied().unwrap_or(0),
                faulty: b.after_input.get(&input).copied().unwrap_or(0),
            })
            .filter(|i| i.clean != i.faulty)
            .collect();
        out.push(Difference::Sent {
            queue: queue.clone(),
            clean: a.total,
            faulty: b.total,
            inputs,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::idempotency::trace_view::SentMessages;

    fn kv(pairs: &[(&str, &[u8])]) -> BTreeMap<String, BTreeMap<String, Vec<u8>>> {
        BTreeMap::from([(
            "cache".to_string(),
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_vec()))
                .collect(),
        )])
    }

    #[test]
    fn equal_states_have_no_difference() {
        let state = EndState {
            kv: kv(&[("seen-1", b"done")]),
            ..EndState::default()
        };
        assert_eq!(differences(&state, &state.clone()), []);
    }

    #[test]
    fn changed_added_and_missing_entries_are_listed_with_both_sides() {
        let clean = EndState {
            kv: kv(&[("count", b"10"), ("seen-1", b"done"), ("gone", b"x")]),
            objects: BTreeMap::from([(
                "uploads".to_string(),
                BTreeMap::from([("out/report.txt".to_string(), ObjectDigest::of(b"one"))]),
            )]),
            sent: BTreeMap::from([(
                "emails".to_string(),
                SentMessages {
                    total: 1,
                    after_input: BTreeMap::from([(4, 1)]),
                    unattributed: 0,
                },
            )]),
        };
        let faulty = EndState {
            kv: kv(&[("count", b"20"), ("seen-1", b"done"), ("bin", &[0xff, 0])]),
            objects: BTreeMap::from([(
                "uploads".to_string(),
                BTreeMap::from([("out/report.txt".to_string(), ObjectDigest::of(b"one\none"))]),
            )]),
            sent: BTreeMap::from([(
                "emails".to_string(),
                SentMessages {
                    total: 2,
                    after_input: BTreeMap::from([(4, 2)]),
                    unattributed: 0,
                },
            )]),
        };
        let text = |s: &str| Some(Shown::Text(s.into()));
        assert_eq!(
            differences(&clean, &faulty),
            [
                Difference::Kv {
                    store: "cache".into(),
                    key: "bin".into(),
                    clean: None,
                    faulty: Some(Shown::of(&[0xff, 0])),
                },
                Difference::Kv {
                    store: "cache".into(),
                    key: "count".into(),
                    clean: text("10"),
                    faulty: text("20"),
                },
                Difference::Kv {
                    store: "cache".into(),
                    key: "gone".into(),
                    clean: text("x"),
                    faulty: None,
                },
                Difference::Object {
                    bucket: "uploads".into(),
                    key: "out/report.txt".into(),
                    clean: Some(ObjectDigest::of(b"one")),
                    faulty: Some(ObjectDigest::of(b"one\none")),
                },
                Difference::Sent {
                    queue: "emails".into(),
                    clean: 1,
                    faulty: 2,
                    inputs: vec![InputSends {
                        input: 4,
                        clean: 1,
                        faulty: 2
                    }],
                },
            ]
        );
    }

    #[test]
    fn values_are_shown_as_text_cut_text_or_size_and_md5() {
        assert_eq!(Shown::of(b"20").to_string(), "\"20\"");
        assert_eq!(
            Shown::of("é".repeat(61).as_bytes()).to_string(),
            format!("\"{}…\"", "é".repeat(60))
        );
        // `printf '\xff' | md5sum`.
        assert_eq!(
            Shown::of(&[0xff]).to_string(),
            "<1 byte, md5 00594fd4f42ba43fc1ca0427a0576295>"
        );
    }
}
