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
    /// The owner's own token per queue (the control API, tests, tools).
    tokens: BTreeMap<String, String>,
    /// One token per (queue, workload holding a binding to it), so the owner knows who
    /// calls and can apply that workload's permissions.
    holders: BTreeMap<(String, String), String>,
}

/// Who presented a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The queue's own token: not a workload, nothing to check.
    Owner,
    /// A workload's binding token.
    Workload(String),
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
        Ok(QueueTokens {
            addr,
            tokens,
            holders: BTreeMap::new(),
        })
    }

    /// Adds a token for `holder`'s binding to `queue` (a queue without an owner token is
    /// ignored).
    pub fn add_holder(&mut self, queue: &str, holder: &str) -> Result<(), QueueOwnerError> {
        if self.tokens.contains_key(queue) {
            self.holders
                .insert((queue.to_string(), holder.to_string()), random_token()?);
        }
        Ok(())
    }

    /// Fresh tokens for every queue resource of `stack`.
    pub fn for_stack(addr: SocketAddr, stack: &Stack) -> Result<QueueTokens, QueueOwnerError> {
        let queues = stack
            .resources
            .iter()
            .filter(|(_, entry)| matches!(entry.config, Resource::Queue(_)))
            .map(|(id, _)| id.clone());
        let mut tokens = Self::generate(addr, queues)?;
        let workloads = stack
            .workers()
            .map(|(id, w)| (id, &w.links))
            .chain(stack.daemons().map(|(id, d)| (id, &d.links)));
        for (holder, links) in workloads {
            for link in links {
                tokens.add_holder(&link.id, holder)?;
            }
        }
        Ok(tokens)
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

    /// The binding value `holder` gets for `queue`: like [`QueueTokens::binding_json`] with
    /// `holder`'s own token. `None` if `holder` has no token for `queue`.
    pub fn binding_json_for(&self, queue: &str, holder: &str) -> Option<Value> {
        let token = self.holders.get(&(queue.to_string(), holder.to_string()))?;
        Some(json!({
            "endpoint": self.endpoint(queue)?,
            "service": "local-queue-http",
            "token": token,
        }))
    }

    /// Who `presented` belongs to, if it is a token of `queue`; compared in constant time
    /// for equal lengths.
    pub(super) fn caller(&self, queue: &str, presented: &str) -> Option<Caller> {
        let matches = |token: &String| constant_time_eq(token.as_bytes(), presented.as_bytes());
        if self.tokens.get(queue).is_some_and(matches) {
            return Some(Caller::Owner);
        }
        self.holders
            .iter()
            .find(|((q, _), token)| q == queue && matches(token))
            .map(|((_, holder), _)| Caller::Workload(holder.clone()))
    }

    /// Whether `presented` is a token of `queue`.
    #[cfg(test)]
    pub(super) fn verify(&self, queue: &str, presented: &str) -> bool {
        self.caller(queue, presented).is_some()
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

pub(crate) fn random_token() -> Result<String, QueueOwnerError> {
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

    /// Each workload's binding carries its own token, so the owner knows the caller.
    #[test]
    fn holder_tokens_identify_the_caller() {
        let mut tokens = QueueTokens::generate(loopback(), ["jobs"]).unwrap();
        tokens.add_holder("jobs", "api").unwrap();
        tokens.add_holder("other", "api").unwrap();
        let binding = tokens.binding_json_for("jobs", "api").unwrap();
        let token = binding["token"].as_str().unwrap();
        assert_ne!(Some(token), tokens.token("jobs"));
        assert_eq!(
            tokens.caller("jobs", token),
            Some(Caller::Workload("api".into()))
        );
        assert_eq!(
            tokens.caller("jobs", tokens.token("jobs").unwrap()),
            Some(Caller::Owner)
        );
        assert!(tokens.binding_json_for("other", "api").is_none());
        assert!(tokens.caller("jobs", "nope").is_none());
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
