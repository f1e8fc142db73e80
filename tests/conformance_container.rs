//! `alien conformance --target localstack-container` (feature `testcontainers`): LocalStack in
//! Docker through testcontainers-modules when a Docker engine answers; otherwise the column is
//! reported `skipped: no Docker engine (...)` and the run still exits 0.
#![cfg(feature = "testcontainers")]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// Whether a Docker engine answers `GET /_ping` with `OK` at `DOCKER_HOST` (unix:// only
/// here) or the default socket: an independent check of what the binary decides.
fn docker_engine() -> Result<(), String> {
    let host = std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".into());
    let path = host
        .strip_prefix("unix://")
        .ok_or_else(|| format!("DOCKER_HOST={host} is not a unix socket"))?;
    let ping = || -> std::io::Result<String> {
        let mut stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    };
    match ping() {
        Ok(answer) if answer.starts_with("HTTP/1.") && answer.ends_with("\r\n\r\nOK") => Ok(()),
        Ok(answer) => Err(format!("{host}: answered {answer:?}")),
        Err(e) => Err(format!("{host}: {e}")),
    }
}

#[test]
fn localstack_container_column_runs_in_docker_or_says_it_was_skipped() {
    let out = Command::new(env!("CARGO_BIN_EXE_alien"))
        .args([
            "conformance",
            "--target",
            "emulator-aws",
            "--target",
            "localstack-container",
            "queue-roundtrip",
        ])
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .output()
        .expect("run alien");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let row = stdout
        .lines()
        .find(|l| l.starts_with("queue-roundtrip "))
        .unwrap_or_else(|| panic!("no queue-roundtrip row:\n{stdout}\n{stderr}"));
    let cells: Vec<&str> = row.split_whitespace().skip(1).collect();
    match docker_engine() {
        Err(why) => {
            eprintln!("skipped: no Docker engine ({why}); checked that alien reports the skip");
            assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
            assert_eq!(cells, ["pass", "skipped"], "{stdout}");
            assert!(
                stdout.contains(
                    "queue-roundtrip on localstack-container: skipped: no Docker engine ("
                ),
                "{stdout}"
            );
            assert!(stderr.contains("skipped: no Docker engine"), "{stderr}");
        }
        Ok(()) => {
            assert_eq!(cells, ["pass", "pass"], "{stdout}\n{stderr}");
            assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        }
    }
}
