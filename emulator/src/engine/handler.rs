//! In-process handlers: closures or the [`Handler`] trait, plus scripted [`Behaviour`]s that
//! scenarios use (succeed, fail the first N attempts, fail always, fail with probability p,
//! crash, take D seconds).

use std::collections::HashMap;
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::events::Event;

/// What one attempt did and how long it took (in virtual time).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub result: HandlerResult,
    pub duration: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HandlerResult {
    /// Success; `status` and `body_bytes` matter for HTTP and commands.
    Ok { status: u16, body_bytes: u64 },
    /// The handler returned an error (`TaskError`).
    Err(String),
    /// The process died mid-invocation.
    Crash,
}

impl Reply {
    pub fn ok(duration: Duration) -> Reply {
        Reply {
            result: HandlerResult::Ok {
                status: 200,
                body_bytes: 0,
            },
            duration,
        }
    }

    pub fn err(message: impl Into<String>, duration: Duration) -> Reply {
        Reply {
            result: HandlerResult::Err(message.into()),
            duration,
        }
    }
}

/// What a handler may use: the seeded random source, the attempt number and a key that
/// identifies the event across redeliveries (platforms that give each delivery a fresh
/// message id, like Local, still redeliver the same underlying message).
pub struct HandlerCtx<'a> {
    pub rng: &'a mut ChaCha8Rng,
    /// The attempt as the platform reports it (Pub/Sub push always says 1).
    pub attempt: u32,
    pub key: &'a str,
}

/// An in-process handler for a worker or daemon.
pub trait Handler: Send {
    fn handle(&mut self, event: &Event, ctx: &mut HandlerCtx) -> Reply;
}

impl<F> Handler for F
where
    F: FnMut(&Event, &mut HandlerCtx) -> Reply + Send,
{
    fn handle(&mut self, event: &Event, ctx: &mut HandlerCtx) -> Reply {
        self(event, ctx)
    }
}

/// A declarative handler, as written in scenario files.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    #[serde(default)]
    pub mode: Mode,
    /// Simulated duration of every attempt.
    #[serde(default, with = "super::duration_serde")]
    pub duration: Duration,
    /// HTTP status of a successful response.
    #[serde(default = "default_status")]
    pub status: u16,
    /// Size of a successful response body.
    #[serde(default)]
    pub response_bytes: u64,
}

fn default_status() -> u16 {
    200
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            mode: Mode::Succeed,
            duration: Duration::ZERO,
            status: 200,
            response_bytes: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Mode {
    #[default]
    Succeed,
    /// Fail the first `times` attempts of each event, then succeed.
    FailFirst {
        times: u32,
    },
    FailAlways,
    /// Fail each attempt with probability `p` (seeded).
    FailProbability {
        p: f64,
    },
    /// Crash the process on the first `times` attempts of each event.
    CrashFirst {
        times: u32,
    },
}

/// A [`Behaviour`] with the per-event attempt counts it needs.
pub struct Scripted {
    behaviour: Behaviour,
    attempts: HashMap<String, u32>,
}

impl Scripted {
    pub fn new(behaviour: Behaviour) -> Scripted {
        Scripted {
            behaviour,
            attempts: HashMap::new(),
        }
    }
}

impl Handler for Scripted {
    fn handle(&mut self, _event: &Event, ctx: &mut HandlerCtx) -> Reply {
        let seen = self.attempts.entry(ctx.key.to_string()).or_insert(0);
        *seen += 1;
        let n = *seen;
        let b = &self.behaviour;
        let result = match b.mode {
            Mode::Succeed => None,
            Mode::FailFirst { times } => {
                (n <= times).then(|| HandlerResult::Err(format!("scripted failure {n} of {times}")))
            }
            Mode::FailAlways => Some(HandlerResult::Err("scripted failure".into())),
            Mode::FailProbability { p } => ctx
                .rng
                .random_bool(p.clamp(0.0, 1.0))
                .then(|| HandlerResult::Err("scripted random failure".into())),
            Mode::CrashFirst { times } => (n <= times).then_some(HandlerResult::Crash),
        };
        Reply {
            result: result.unwrap_or(HandlerResult::Ok {
                status: b.status,
                body_bytes: b.response_bytes,
            }),
            duration: b.duration,
        }
    }
}
