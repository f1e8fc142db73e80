//! The worker-protocol server for one app process: the published `alien-worker-protocol`
//! server (ControlService + WaitUntilService under the current `alien_worker.*` and legacy
//! `alien_bindings.*` names, published-3.3.49.md §6.2) on a free loopback port.
//!
//! It must be listening before the app starts, because `AlienContext::from_env` connects
//! eagerly and panics on a refused connection (real-clients.md §3; published-3.3.49.md §12
//! item 1). One server per process lifetime: after a task timeout the server stays cancelled
//! for good, so a restarted app gets a fresh one (published-3.3.49.md §6.2).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use alien_worker_protocol::{ControlGrpcServer, GrpcServerHandles, WaitUntilGrpcServer};
use tokio::task::JoinHandle;

/// How often a start is retried when the probed free port was taken in between.
const BIND_ATTEMPTS: usize = 5;
/// Upper bound for the server to signal that it is bound.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A running worker-protocol server; dropping it stops accepting connections.
pub struct ProtocolServer {
    address: SocketAddr,
    control: Arc<ControlGrpcServer>,
    wait_until: Arc<WaitUntilGrpcServer>,
    task: JoinHandle<alien_worker_protocol::error::Result<()>>,
}

impl ProtocolServer {
    /// Starts a server on `127.0.0.1:<free port>` and waits until it is bound.
    ///
    /// `run_grpc_server` takes an address and binds inside its own task, so the port is
    /// probed first; if another process grabs it in between, the start is retried.
    pub async fn start() -> Result<Self, String> {
        let mut last_error = String::new();
        for _ in 0..BIND_ATTEMPTS {
            let address = free_loopback_address().map_err(|e| e.to_string())?;
            let handles = alien_worker_protocol::run_grpc_server(&address.to_string())
                .await
                .map_err(|e| e.to_string())?;
            let GrpcServerHandles {
                wait_until_server,
                control_server,
                server_task,
                readiness_receiver,
            } = handles;
            match tokio::time::timeout(READY_TIMEOUT, readiness_receiver).await {
                Ok(Ok(())) => {
                    return Ok(Self {
                        address,
                        control: control_server,
                        wait_until: wait_until_server,
                        task: server_task,
                    });
                }
                Ok(Err(_)) => {
                    // The server task ended before binding; its error says why.
                    last_error = match server_task.await {
                        Ok(Err(error)) => error.to_string(),
                        Ok(Ok(())) => "server ended before binding".to_string(),
                        Err(join) => join.to_string(),
                    };
                }
                Err(_) => {
                    server_task.abort();
                    last_error = format!("server not bound within {READY_TIMEOUT:?}");
                }
            }
        }
        Err(last_error)
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

fn free_loopback_address() -> std::io::Result<SocketAddr> {
    let probe = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    probe.local_addr()
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
}
