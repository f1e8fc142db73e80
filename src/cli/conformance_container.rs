//! `alien conformance --target localstack-container`: LocalStack Community in Docker, started
//! through testcontainers-modules' LocalStack module (0.15: image `localstack/localstack:4.5`,
//! ready once its log says `Ready.`; `src/localstack/mod.rs` of testcontainers-modules).
//!
//! The column runs only when a Docker engine answers the Engine API's ping (`GET /_ping` →
//! `200 OK` with body `OK`, Docker Engine API reference, "System › Ping"), looked for where
//! the Docker CLI looks first: `DOCKER_HOST`, else `unix:///var/run/docker.sock`. Without one,
//! every cell is `skipped: no Docker engine (...)`: reported, never a silent pass.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use alien_emulator::conformance::{AwsTarget, Cell};
use testcontainers_modules::localstack::LocalStack;
use testcontainers_modules::testcontainers::ImageExt;
use testcontainers_modules::testcontainers::bollard::models::PortBinding;
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Column, LOCALSTACK_CONTAINER, same_cells};

/// The engine's socket when `DOCKER_HOST` is unset (Docker CLI and testcontainers default).
const DEFAULT_SOCKET: &str = "/var/run/docker.sock";
/// How long the ping may take, connect included.
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// LocalStack's edge port inside the container: every service answers there.
const EDGE_PORT: u16 = 4566;

/// The column for `localstack-container`: the cases run against LocalStack in Docker, or
/// skipped cells saying why no Docker engine was found.
pub async fn column(run_id: &str, cases: &[String]) -> Column {
    let found = match engine(std::env::var("DOCKER_HOST").ok().as_deref()) {
        Ok(engine) => ping(&engine).await.map_err(|e| format!("{engine}: {e}")),
        Err(e) => Err(e),
    };
    if let Err(tried) = found {
        let reason = format!("no Docker engine ({tried})");
        eprintln!("warning: --target {LOCALSTACK_CONTAINER}: skipped: {reason}");
        return same_cells(cases, &Cell::Skipped(reason));
    }
    match in_container(run_id, cases).await {
        Ok(cells) => cells,
        Err(e) => same_cells(cases, &Cell::Fail(e)),
    }
}

/// Starts LocalStack with its edge port published on 127.0.0.1 only, runs the cases against
/// it through the AWS adapter, then stops and removes the container.
async fn in_container(run_id: &str, cases: &[String]) -> Result<Column, String> {
    // Chosen before the start so LocalStack can put it in the URLs it returns (queue URLs):
    // the same settings as scripts/peers/localstack.sh.
    let host_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("choosing a loopback port: {e}"))?
        .port();
    let container = LocalStack::default()
        .with_env_var("LOCALSTACK_HOST", format!("127.0.0.1:{host_port}"))
        .with_env_var("SQS_ENDPOINT_STRATEGY", "path")
        .with_env_var("DISABLE_EVENTS", "1")
        .with_host_config_modifier(move |host| {
            // testcontainers publishes every exposed port on all interfaces; loopback only.
            host.publish_all_ports = Some(false);
            host.port_bindings = Some(HashMap::from([(
                format!("{EDGE_PORT}/tcp"),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some(host_port.to_string()),
                }]),
            )]));
        })
        .start()
        .await
        .map_err(|e| format!("starting LocalStack in Docker: {e}"))?;
    let cells = match container.get_host_port_ipv4(EDGE_PORT).await {
        Ok(port) => {
            let target =
                AwsTarget::peer(LOCALSTACK_CONTAINER, &format!("http://127.0.0.1:{port}")).await;
            Ok(super::column(&target, run_id, cases).await)
        }
        Err(e) => Err(format!("LocalStack's port {EDGE_PORT} in Docker: {e}")),
    };
    if let Err(e) = container.stop().await {
        eprintln!("warning: stopping the LocalStack container: {e}");
    }
    if let Err(e) = container.rm().await {
        eprintln!("warning: removing the LocalStack container: {e}");
    }
    cells
}

/// Where a Docker engine would listen.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Engine {
    Unix(PathBuf),
    /// `host:port`, plain HTTP.
    Tcp(String),
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Engine::Unix(path) => write!(f, "unix://{}", path.display()),
            Engine::Tcp(addr) => write!(f, "tcp://{addr}"),
        }
    }
}

/// The engine named by `DOCKER_HOST` (empty counts as unset, as for the Docker CLI), else the
/// default socket. Err: a `DOCKER_HOST` this probe cannot speak to.
fn engine(docker_host: Option<&str>) -> Result<Engine, String> {
    let Some(host) = docker_host.filter(|h| !h.is_empty()) else {
        return Ok(Engine::Unix(PathBuf::from(DEFAULT_SOCKET)));
    };
    if let Some(path) = host.strip_prefix("unix://") {
        Ok(Engine::Unix(PathBuf::from(path)))
    } else if let Some(addr) = host.strip_prefix("tcp://") {
        Ok(Engine::Tcp(addr.trim_end_matches('/').to_string()))
    } else {
        Err(format!(
            "DOCKER_HOST={host}: only unix:// and tcp:// engines are probed"
        ))
    }
}

/// `GET /_ping` within [`PING_TIMEOUT`]; Ok when the engine answers `200` with body `OK`.
async fn ping(engine: &Engine) -> io::Result<()> {
    let exchange = async {
        match engine {
            Engine::Unix(path) => ping_over(tokio::net::UnixStream::connect(path).await?).await,
            Engine::Tcp(addr) => {
                ping_over(tokio::net::TcpStream::connect(addr.as_str()).await?).await
            }
        }
    };
    tokio::time::timeout(PING_TIMEOUT, exchange)
        .await
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer to GET /_ping within {PING_TIMEOUT:?}"),
            )
        })?
}

async fn ping_over(mut stream: impl AsyncRead + AsyncWrite + Unpin) -> io::Result<()> {
    stream
        .write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\nConnection: close\r\n\r\n")
        .await?;
    let mut answer = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut answer).await?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.lines().next().unwrap_or_default();
    if status.split(' ').nth(1) == Some("200") && body.trim() == "OK" {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("GET /_ping answered {status:?} with body {body:?}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::UnixListener;

    /// A one-shot engine on a unix socket: reads the request head, answers `response`.
    fn serve_once(listener: UnixListener, response: &'static str) {
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.expect("accept");
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).await.expect("read") == 1 {
                head.push(byte[0]);
            }
            assert!(head.starts_with(b"GET /_ping HTTP/1.0\r\n"));
            conn.write_all(response.as_bytes()).await.expect("write");
        });
    }

    #[test]
    fn docker_host_or_the_default_socket() {
        let default = Engine::Unix(PathBuf::from("/var/run/docker.sock"));
        assert_eq!(engine(None), Ok(default.clone()));
        assert_eq!(engine(Some("")), Ok(default));
        assert_eq!(
            engine(Some("unix:///run/user/1000/docker.sock")),
            Ok(Engine::Unix(PathBuf::from("/run/user/1000/docker.sock")))
        );
        assert_eq!(
            engine(Some("tcp://127.0.0.1:2375")).map(|e| e.to_string()),
            Ok("tcp://127.0.0.1:2375".to_string())
        );
        assert!(engine(Some("ssh://me@host")).is_err());
    }

    #[tokio::test]
    async fn an_engine_answering_ok_is_found_and_a_missing_socket_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("docker.sock");
        serve_once(
            UnixListener::bind(&path).expect("bind"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK",
        );
        ping(&Engine::Unix(path)).await.expect("engine found");

        let missing = ping(&Engine::Unix(dir.path().join("absent.sock")))
            .await
            .expect_err("no engine");
        assert_eq!(missing.kind(), io::ErrorKind::NotFound, "{missing}");
    }

    #[tokio::test]
    async fn an_engine_answering_otherwise_is_not_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("docker.sock");
        serve_once(
            UnixListener::bind(&path).expect("bind"),
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nnope",
        );
        let err = ping(&Engine::Unix(path)).await.expect_err("not an engine");
        assert!(err.to_string().contains("500"), "{err}");
    }
}
