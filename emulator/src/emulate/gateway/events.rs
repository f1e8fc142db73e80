//! What a gateway reports: each decision as a [`GatewayEvent`] for the trace, and each arrival
//! for `alien emulate --record`.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

/// How a request ended at the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// The app answered; its status is passed through.
    Proxied,
    RequestTooLarge,
    ResponseTooLarge,
    Timeout,
    Throttled,
    /// No port registered.
    NotRegistered,
    /// Connecting to the app failed.
    UpstreamUnreachable,
    /// The connection to the app broke mid-request or mid-response.
    UpstreamFailed,
    /// The client's request body could not be read.
    BadRequest,
}

/// One gateway decision, for the trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayEvent {
    pub worker: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub outcome: Outcome,
    /// `ok` when proxied, else why the gateway answered itself.
    pub reason: String,
    /// From the request head arriving to the gateway's answer.
    pub duration: Duration,
}

/// A request as it arrives at a gateway, before any decision (for `alien emulate --record`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    pub worker: String,
    pub method: String,
    pub path: String,
    /// The request body's length when its head tells it, else None (a chunked body).
    pub body_bytes: Option<u64>,
}

/// Called with every request that arrives once [`Gateway::observe_arrivals`] installed it.
pub type ArrivalObserver = Arc<dyn Fn(Arrival) + Send + Sync>;

/// Where gateway events go; called once per request, from the request's task.
#[derive(Clone)]
pub struct EventSink(pub(super) Arc<dyn Fn(GatewayEvent) + Send + Sync>);

impl EventSink {
    pub fn new(f: impl Fn(GatewayEvent) + Send + Sync + 'static) -> EventSink {
        EventSink(Arc::new(f))
    }

    /// A sink feeding an unbounded channel (events are dropped once the receiver is gone).
    pub fn channel() -> (EventSink, mpsc::UnboundedReceiver<GatewayEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            EventSink::new(move |event| {
                let _ = tx.send(event);
            }),
            rx,
        )
    }

    /// Drops every event.
    pub fn discard() -> EventSink {
        EventSink::new(|_| {})
    }
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventSink")
    }
}
