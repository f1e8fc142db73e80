//! The port a worker's app registered, shared by the worker host and the gateway.

use std::sync::Arc;

use tokio::sync::watch;

/// The port a worker's app registered, shared between the worker host (which sets it when
/// the app registers its HTTP server, and again after a restart) and the gateway (which reads
/// it for every request).
#[derive(Clone)]
pub struct UpstreamPort {
    port: Arc<watch::Sender<Option<u16>>>,
    /// Starts a scaled-to-zero app (a cold start) when a request finds no port.
    waker: Arc<std::sync::Mutex<Option<Waker>>>,
}

/// See [`UpstreamPort::set_waker`].
pub type Waker = Arc<dyn Fn() + Send + Sync>;

impl std::fmt::Debug for UpstreamPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("UpstreamPort").field(&self.get()).finish()
    }
}

impl Default for UpstreamPort {
    fn default() -> Self {
        UpstreamPort::new()
    }
}

impl UpstreamPort {
    /// No port registered yet.
    pub fn new() -> UpstreamPort {
        UpstreamPort {
            port: Arc::new(watch::Sender::new(None)),
            waker: Arc::new(std::sync::Mutex::new(None)),
        }
    }

    /// Called when a request finds no port; a request then waits (within its timeout) for
    /// the app to register one, as a request to a scaled-to-zero service waits for its cold
    /// start.
    pub fn set_waker(&self, waker: Waker) {
        *self.waker.lock().unwrap_or_else(|p| p.into_inner()) = Some(waker);
    }

    /// The port, waking the app first if it is scaled to zero; `None` when there is no
    /// waker and no port.
    pub async fn wait_port(&self) -> Option<u16> {
        if let Some(port) = self.get() {
            return Some(port);
        }
        let waker = self
            .waker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        let mut changes = self.subscribe();
        waker();
        changes
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|p| *p)
    }

    /// The app listens on `127.0.0.1:port`.
    pub fn set(&self, port: u16) {
        self.port.send_replace(Some(port));
    }

    /// The app is gone (crashed or stopping): requests get 503 until the next `set`.
    pub fn clear(&self) {
        self.port.send_replace(None);
    }

    pub fn get(&self) -> Option<u16> {
        *self.port.borrow()
    }

    /// Follows changes (e.g. to wait for the first registration).
    pub fn subscribe(&self) -> watch::Receiver<Option<u16>> {
        self.port.subscribe()
    }
}
