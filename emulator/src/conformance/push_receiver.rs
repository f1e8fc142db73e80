//! A push endpoint on 127.0.0.1 that answers every push as told (500 at once, or 200 after
//! holding the request) and records when each one arrived and what it carried: the receiver
//! of the Pub/Sub push cases on a real peer.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use tokio::sync::oneshot;

use super::{PushSeen, Receiver};

/// One push as it arrived.
#[derive(Debug, Clone)]
struct Arrival {
    at: Instant,
    body: serde_json::Value,
}

type Arrivals = Arc<Mutex<Vec<Arrival>>>;

#[derive(Clone)]
struct Shared {
    arrivals: Arrivals,
    answer: Receiver,
}

/// A running receiver; dropped, it stops.
pub struct PushReceiver {
    pub url: String,
    arrivals: Arrivals,
    _stop: oneshot::Sender<()>,
}

impl PushReceiver {
    /// Binds 127.0.0.1 on a free port and answers as `answer` says until dropped.
    pub async fn start(answer: Receiver) -> std::io::Result<PushReceiver> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/", listener.local_addr()?);
        let arrivals: Arrivals = Arc::default();
        let app = Router::new().route("/", post(record)).with_state(Shared {
            arrivals: arrivals.clone(),
            answer,
        });
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(PushReceiver {
            url,
            arrivals,
            _stop: stop,
        })
    }

    /// The pushes so far, timed from `published`: the push body's `message.messageId` and
    /// `deliveryAttempt` (Pub/Sub push request format).
    pub fn pushes(&self, published: Instant) -> Vec<PushSeen> {
        let arrivals = self.arrivals.lock().unwrap_or_else(|p| p.into_inner());
        arrivals
            .iter()
            .map(|a| PushSeen {
                after: a.at.saturating_duration_since(published),
                message_id: a.body["message"]["messageId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                delivery_attempt: a.body["deliveryAttempt"]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok()),
            })
            .collect()
    }
}

async fn record(State(shared): State<Shared>, body: Bytes) -> StatusCode {
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    shared
        .arrivals
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Arrival {
            at: Instant::now(),
            body,
        });
    match shared.answer {
        Receiver::Fails => StatusCode::INTERNAL_SERVER_ERROR,
        Receiver::AnswersAfter(hold) => {
            tokio::time::sleep(hold).await;
            StatusCode::OK
        }
    }
}
