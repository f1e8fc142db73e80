//! Deterministic trace and span ids: the MD5 of the run's identity and the parts naming a
//! trace or span, so a replay of the same run (same stack, platform, scenario and seed)
//! exports the same ids. MD5 is already the engine's digest (S3 ETags); no secrecy needed.

use md5::{Digest, Md5};
use opentelemetry::trace::{SpanId, TraceId};

/// What makes a run's ids unique: stack id, platform, seed and, for `alien simulate`, the
/// scenario (the same scenario runs on several platforms with the same seed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunKey(Vec<u8>);

impl RunKey {
    pub fn new(parts: &[&str]) -> RunKey {
        RunKey(digest(&[], parts).to_vec())
    }

    /// The trace id named by `parts` within this run (never the invalid all-zero id).
    pub fn trace_id(&self, parts: &[&str]) -> TraceId {
        let bytes = digest(&self.0, parts);
        let id = TraceId::from_bytes(bytes);
        if id == TraceId::INVALID {
            TraceId::from_bytes([1; 16])
        } else {
            id
        }
    }

    /// The span id named by `parts` within this run (never the invalid all-zero id).
    pub fn span_id(&self, parts: &[&str]) -> SpanId {
        let bytes = digest(&self.0, parts);
        let mut first = [0u8; 8];
        first.copy_from_slice(&bytes[..8]);
        let id = SpanId::from_bytes(first);
        if id == SpanId::INVALID {
            SpanId::from_bytes([1; 8])
        } else {
            id
        }
    }
}

/// MD5 of `salt` and each part, length-prefixed so `["ab", "c"]` and `["a", "bc"]` differ.
fn digest(salt: &[u8], parts: &[&str]) -> [u8; 16] {
    let mut hasher = Md5::new();
    hasher.update(salt);
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_depend_on_the_run_and_the_parts_only() {
        let run = RunKey::new(&["queue-worker", "aws", "1"]);
        let again = RunKey::new(&["queue-worker", "aws", "1"]);
        assert_eq!(run.trace_id(&["m-1"]), again.trace_id(&["m-1"]));
        assert_eq!(run.span_id(&["m-1"]), again.span_id(&["m-1"]));
        assert_ne!(run.span_id(&["m-1"]), run.span_id(&["m-2"]));
        let other_seed = RunKey::new(&["queue-worker", "aws", "2"]);
        assert_ne!(run.trace_id(&["m-1"]), other_seed.trace_id(&["m-1"]));
        assert_ne!(run.span_id(&["ab", "c"]), run.span_id(&["a", "bc"]));
    }
}
