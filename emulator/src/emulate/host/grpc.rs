//! The worker-protocol server for one app process: the published `alien-worker-protocol`
//! server (ControlService + WaitUntilService under the current `alien_worker.*` and legacy
//! `alien_bindings.*` names, published-3.3.49.md §6.2) on a free loopback port.
//!
//! It must be listening before the app starts, because `AlienContext::from_env` connects
//! eagerly and panics on a refused connection (real-clients.md §3; published-3.3.49.md §12
//! item 1). One server per process lifetime: after a task timeout the server stays cancelled
//! for good, so a restarted app gets a fresh one (published-3.3.49.md §6.2).

use std::convert::Infallible;
use std::marker::PhantomData;
use std::task::{Context, Poll};
use std::{net::SocketAddr, sync::Arc};

use alien_worker_protocol::{ControlGrpcServer, WaitUntilGrpcServer};
use tokio::task::JoinHandle;
use tonic::codegen::Service;
use tonic::codegen::http::{Request, Uri};
use tonic::server::NamedService;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

/// The published server's decode limit (4 GiB, published-3.3.49.md §11).
const MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024 * 1024;

/// A running worker-protocol server; dropping it stops accepting connections.
pub struct ProtocolServer {
    address: SocketAddr,
    control: Arc<ControlGrpcServer>,
    wait_until: Arc<WaitUntilGrpcServer>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl ProtocolServer {
    /// Starts a server on `127.0.0.1:<free port>`; it accepts connections once this returns.
    ///
    /// The published crate's own services (`ControlGrpcServer`, `WaitUntilGrpcServer`) are
    /// served by our tonic server rather than by `run_grpc_server`, for two reasons: we bind
    /// the listener ourselves (so the port is known, no probe-and-retry), and accepted sockets
    /// get `TCP_NODELAY` — without it every task written after a `SendTaskResult` answer waited
    /// for the app's delayed ACK (~40 ms per task, see BENCHMARKS.md). The legacy
    /// `alien_bindings.*` names are served by rewriting their paths, as upstream does.
    pub async fn start() -> Result<Self, String> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| e.to_string())?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let control = Arc::new(ControlGrpcServer::new());
        let wait_until = Arc::new(WaitUntilGrpcServer::new());
        let control_service = (*control)
            .clone()
            .into_service()
            .max_decoding_message_size(MAX_MESSAGE_SIZE);
        let wait_until_service = (*wait_until)
            .clone()
            .into_service()
            .max_decoding_message_size(MAX_MESSAGE_SIZE);
        let router = Server::builder()
            .concurrency_limit_per_connection(256)
            .add_service(wait_until_service.clone())
            .add_service(Legacy::<_, WaitUntilNames>::new(wait_until_service))
            .add_service(control_service.clone())
            .add_service(Legacy::<_, ControlNames>::new(control_service));
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let task = tokio::spawn(router.serve_with_incoming(incoming));
        Ok(Self {
            address,
            control,
            wait_until,
            task,
        })
    }

    /// `127.0.0.1:<port>`, the value of `ALIEN_WORKER_GRPC_ADDRESS`.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn control(&self) -> &Arc<ControlGrpcServer> {
        &self.control
    }

    pub fn wait_until(&self) -> &Arc<WaitUntilGrpcServer> {
        &self.wait_until
    }
}

impl Drop for ProtocolServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The legacy and current names of one service (upstream-runtime-and-bindings.md §1.1).
trait ServiceNames {
    const LEGACY: &'static str;
    const CURRENT: &'static str;
}

struct ControlNames;

impl ServiceNames for ControlNames {
    const LEGACY: &'static str = "alien_bindings.control.ControlService";
    const CURRENT: &'static str = "alien_worker.control.ControlService";
}

struct WaitUntilNames;

impl ServiceNames for WaitUntilNames {
    const LEGACY: &'static str = "alien_bindings.wait_until.WaitUntilService";
    const CURRENT: &'static str = "alien_worker.wait_until.WaitUntilService";
}

/// Serves a service under its legacy name by rewriting `/<legacy>/<method>` to
/// `/<current>/<method>`.
struct Legacy<S, N> {
    inner: S,
    names: PhantomData<fn() -> N>,
}

impl<S, N> Legacy<S, N> {
    fn new(inner: S) -> Self {
        Legacy {
            inner,
            names: PhantomData,
        }
    }
}

impl<S: Clone, N> Clone for Legacy<S, N> {
    fn clone(&self) -> Self {
        Legacy::new(self.inner.clone())
    }
}

impl<S, N: ServiceNames> NamedService for Legacy<S, N> {
    const NAME: &'static str = N::LEGACY;
}

impl<S, N, B> Service<Request<B>> for Legacy<S, N>
where
    S: Service<Request<B>, Error = Infallible>,
    N: ServiceNames,
{
    type Response = S::Response;
    type Error = Infallible;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let rewritten = request
            .uri()
            .path()
            .strip_prefix(&format!("/{}/", N::LEGACY))
            .and_then(|method| {
                Uri::builder()
                    .path_and_query(format!("/{}/{method}", N::CURRENT))
                    .build()
                    .ok()
            });
        if let Some(uri) = rewritten {
            *request.uri_mut() = uri;
        }
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use alien_worker_protocol::control::{
        RegisterHttpServerRequest, control_service_client::ControlServiceClient,
    };

    use super::*;

    #[tokio::test]
    async fn serves_the_control_service_on_loopback() {
        let server = ProtocolServer::start().await.expect("server starts");
        assert!(server.address().ip().is_loopback());
        let mut client = ControlServiceClient::connect(format!("http://{}", server.address()))
            .await
            .expect("connect");
        client
            .register_http_server(RegisterHttpServerRequest { port: 4100 })
            .await
            .expect("register");
        assert_eq!(server.control().get_http_port().await, Some(4100));
    }

    #[tokio::test]
    async fn each_server_gets_its_own_port() {
        let a = ProtocolServer::start().await.expect("a");
        let b = ProtocolServer::start().await.expect("b");
        assert_ne!(a.address(), b.address());
    }

    /// Upstream serves the legacy `alien_bindings.*` names on the same state (§1.1).
    #[test]
    fn legacy_paths_are_rewritten_to_current_names() {
        #[derive(Clone, Default)]
        struct Record(std::sync::Arc<std::sync::Mutex<Vec<String>>>);
        impl Service<Request<()>> for Record {
            type Response = ();
            type Error = Infallible;
            type Future = std::future::Ready<Result<(), Infallible>>;
            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
                Poll::Ready(Ok(()))
            }
            fn call(&mut self, request: Request<()>) -> Self::Future {
                self.0
                    .lock()
                    .unwrap()
                    .push(request.uri().path().to_string());
                std::future::ready(Ok(()))
            }
        }
        let record = Record::default();
        let mut legacy = Legacy::<_, ControlNames>::new(record.clone());
        let request = Request::builder()
            .uri("/alien_bindings.control.ControlService/RegisterHttpServer")
            .body(())
            .unwrap();
        drop(legacy.call(request));
        let other = Request::builder()
            .uri("/alien_worker.control.ControlService/WaitForTasks")
            .body(())
            .unwrap();
        drop(legacy.call(other));
        assert_eq!(
            *record.0.lock().unwrap(),
            [
                "/alien_worker.control.ControlService/RegisterHttpServer",
                "/alien_worker.control.ControlService/WaitForTasks"
            ]
        );
        assert_eq!(
            <Legacy<Record, WaitUntilNames> as NamedService>::NAME,
            "alien_bindings.wait_until.WaitUntilService"
        );
    }
}
