//! Per-queue bearer credentials and the `local-queue-http` binding JSON an app receives
//! (published-3.3.49.md §3 and §4.5: "Credentials are per queue … injected into runtime
//! bindings").

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

use rand::TryRngCore;
use rand::rngs::OsRng;
use serde_json::{Value, json};

use super::QueueOwnerError;
use crate::stack::{Resource, Stack};

/// Random bytes per token (hex-encoded: 64 characters).
const TOKEN_BYTES: usize = 32;

/// The bearer tokens of every queue one owner serves, and the owner's loopback address.
///
/// Tokens come from the OS RNG and live only in memory; an app gets its queue's token in
/// its binding ([`QueueTokens::binding_json`]). A new owner means new tokens, and upstream's
/// client caches one provider per binding name, so apps restart with it (§1). `Debug`
/// never prints a token.
#[derive(Clone)]
pub struct QueueTokens {
    addr: SocketAddr,
    tokens: BTreeMap<String, String>,
}

impl QueueTokens {
    /// Fresh random tokens for `queues`, served at `addr` (which must be loopback).
    pub fn generate(
        addr: SocketAddr,
        queues: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<QueueTokens, QueueOwnerError> {
        if !addr.ip().is_loopback() {
            return Err(QueueOwnerError::NotLoopback(addr));
        }
        let tokens = queues
            .into_iter()
            .map(|queue| Ok((queue.into(), random_token()?)))
            .collect::<Result<_, QueueOwnerError>>()?;
        Ok(QueueTokens { addr, tokens })
    }

    /// Fresh tokens for every queue resource of `stack`.
    pub fn for_stack(addr: SocketAddr, stack: &Stack) -> Result<QueueTokens, QueueOwnerError> {
        let queues = stack
            .resources
            .iter()
            .filter(|(_, entry)| matches!(entry.config, Resource::Queue(_)))
            .map(|(id, _)| id.clone());
        Self::generate(addr, queues)
    }

    /// The address the owner is reachable at.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every queue with a token, in id order.
    pub fn queues(&self) -> impl Iterator<Item = &str> {
        self.tokens.keys().map(String::as_str)
    }

    /// The bearer token of `queue`.
    pub fn token(&self, queue: &str) -> Option<&str> {
        self.tokens.get(queue).map(String::as_str)
    }

    /// `http://<addr>/queues/<queue>`: the URL the client POSTs every operation to (§4.1).
    pub fn endpoint(&self, queue: &str) -> Option<String> {
        self.tokens
            .contains_key(queue)
            .then(|| format!("http://{}/queues/{queue}", self.addr))
    }

    /// The binding value for `queue`, `{"endpoint", "service":"local-queue-http", "token"}`
    /// with sorted keys (§0, §3), for `ALIEN_<NAME>_BINDING`. `None` for a queue without a
    /// token.
    pub fn binding_json(&self, queue: &str) -> Option<Value> {
        Some(json!({
            "endpoint": self.endpoint(queue)?,
            "service": "local-queue-http",
            "token": self.token(queue)?,
        }))
    }

    /// Whether `presented` is `queue`'s token, compared in constant time for equal lengths.
    pub(super) fn verify(&self, queue: &str, presented: &str) -> bool {
        self.tokens
            .get(queue)
            .is_some_and(|token| constant_time_eq(token.as_bytes(), presented.as_bytes()))
    }
}

impl fmt::Debug for QueueTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueTokens")
            .field("addr", &self.addr)
            .field("queues", &self.tokens.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn random_token() -> Result<String, QueueOwnerError> {
    let mut bytes = [0_u8; TOKEN_BYTES];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(QueueOwnerError::Entropy)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> SocketAddr {
        "127.0.0.1:4100".parse().unwrap()
    }

    #[test]
    fn tokens_are_random_hex_per_queue() {
        let tokens = QueueTokens::generate(loopback(), ["a", "b"]).unwrap();
        let (a, b) = (tokens.token("a").unwrap(), tokens.token("b").unwrap());
        assert_ne!(a, b);
        for token in [a, b] {
            assert_eq!(token.len(), 2 * TOKEN_BYTES);
            assert!(token.bytes().all(|c| c.is_ascii_hexdigit()));
        }
        let again = QueueTokens::generate(loopback(), ["a"]).unwrap();
        assert_ne!(again.token("a"), Some(a));
    }

    #[test]
    fn verify_accepts_only_the_queues_own_token() {
        let tokens = QueueTokens::generate(loopback(), ["a", "b"]).unwrap();
        let a = tokens.token("a").unwrap().to_owned();
        assert!(tokens.verify("a", &a));
        assert!(!tokens.verify("b", &a));
        assert!(!tokens.verify("c", &a));
        assert!(!tokens.verify("a", &a[1..]));
        assert!(!tokens.verify("a", ""));
    }

    #[test]
    fn binding_json_and_endpoint() {
        let tokens = QueueTokens::generate(loopback(), ["jobs"]).unwrap();
        assert_eq!(
            tokens.binding_json("jobs").unwrap().to_string(),
            format!(
                r#"{{"endpoint":"http://127.0.0.1:4100/queues/jobs","service":"local-queue-http","token":"{}"}}"#,
                tokens.token("jobs").unwrap()
            )
        );
        assert!(tokens.binding_json("other").is_none());
        let v6 = QueueTokens::generate("[::1]:9".parse().unwrap(), ["q"]).unwrap();
        assert_eq!(v6.endpoint("q").unwrap(), "http://[::1]:9/queues/q");
    }

    #[test]
    fn only_loopback_addresses() {
        let err = QueueTokens::generate("0.0.0.0:80".parse().unwrap(), ["q"]).unwrap_err();
        assert!(matches!(err, QueueOwnerError::NotLoopback(_)));
    }

    #[test]
    fn debug_hides_tokens() {
        let tokens = QueueTokens::generate(loopback(), ["jobs"]).unwrap();
        let debug = format!("{tokens:?}");
        assert!(!debug.contains(tokens.token("jobs").unwrap()), "{debug}");
        assert!(debug.contains("jobs"));
    }
}
