//! The `startup` part of the peers bench: time to ready and RSS of `alien emulate`, moto and
//! LocalStack host mode, spawned with scripts/peers' command lines (see benches/peers.rs).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;

use super::env_path;
use crate::common::{
    Emulation, IDLE, Result, StartupSample, alien_startup, client, env_usize, free_port, median,
    mib, poll_until_ok, prebuilt_config, rss_kib, signal, tree, wait_for,
};

/// A peer server as scripts/peers starts it.
#[derive(Clone, Copy)]
enum PeerKind {
    Moto,
    LocalStack,
}

impl PeerKind {
    fn label(self) -> &'static str {
        match self {
            PeerKind::Moto => "`moto_server` 5.2.5",
            PeerKind::LocalStack => "LocalStack 2026.3.0 (host mode)",
        }
    }
}

/// A peer's start: as [`StartupSample`], plus the tree's RSS after one SQS call.
struct PeerSample {
    start: StartupSample,
    after_call_kib: u64,
}

/// Polls LocalStack's `GET /_localstack/init/ready` every 5 ms until its `completed` is true
/// (`/_localstack/health` answers earlier, before LocalStack prints "Ready.").
fn poll_localstack_ready(http: &Client, port: u16, child: &mut Child) -> Result<Instant> {
    let url = format!("http://127.0.0.1:{port}/_localstack/init/ready");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(response) = http.get(&url).send()
            && response.status().is_success()
            && let Ok(body) = response.json::<serde_json::Value>()
            && body["completed"] == true
        {
            return Ok(Instant::now());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("LocalStack exited ({status}) before it was ready"));
        }
        if Instant::now() >= deadline {
            return Err(format!("{url} not completed within 90 s"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One SQS `ListQueues` (query protocol, a dummy SigV4 header: neither peer checks it).
fn list_queues(http: &Client, port: u16) -> Result<()> {
    let url = format!("http://127.0.0.1:{port}/");
    let response = http
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=test/20261122/us-east-1/sqs/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .body("Action=ListQueues&Version=2012-11-05")
        .timeout(Duration::from_secs(60))
        .send()
        .map_err(|e| format!("ListQueues: {e}"))?;
    if !response.status().is_success() {
        let status = response.status();
        return Err(format!(
            "ListQueues: {status} {}",
            response.text().unwrap_or_default()
        ));
    }
    Ok(())
}

/// The tree's RSS: the main process and the sum of its descendants, in KiB.
fn tree_rss(pid: u32) -> Result<(u64, u64)> {
    let main = rss_kib(pid).ok_or("the server exited while idle")?;
    let rest = tree(pid).into_iter().skip(1).filter_map(rss_kib).sum();
    Ok((main, rest))
}

/// Spawns the peer with scripts/peers' command line in its own process group, measures it,
/// stops the group (SIGTERM, SIGKILL after 15 s).
fn peer_startup(kind: PeerKind, program: &Path) -> Result<PeerSample> {
    let port = free_port()?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let log = dir.path().join("server.log");
    let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut command = Command::new(program);
    match kind {
        PeerKind::Moto => {
            command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        }
        PeerKind::LocalStack => {
            // scripts/peers/localstack.sh: host mode, own TMPDIR and file tree, no DNS server.
            let tmp = dir.path().join("tmp");
            std::fs::create_dir_all(tmp.join("fs")).map_err(|e| e.to_string())?;
            let listen = format!("127.0.0.1:{port}");
            command
                .args(["-m", "localstack.runtime.main"])
                .env("TMPDIR", &tmp)
                .env("OVERRIDE_IN_DOCKER", "0")
                .env("FILESYSTEM_ROOT", tmp.join("fs"))
                .env("GATEWAY_LISTEN", &listen)
                .env("LOCALSTACK_HOST", &listen)
                .env("DNS_ADDRESS", "0")
                .env("DISABLE_EVENTS", "1")
                .env("SKIP_SSL_CERT_DOWNLOAD", "1")
                .env("SQS_ENDPOINT_STRATEGY", "path");
        }
    }
    let spawned = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", program.display()))?;
    let pid = child.id();
    let measured = (|| {
        let http = client();
        let answered = match kind {
            PeerKind::Moto => poll_until_ok(
                &http,
                &format!("http://127.0.0.1:{port}/moto-api/"),
                &mut child,
                Duration::from_secs(60),
            )?,
            PeerKind::LocalStack => poll_localstack_ready(&http, port, &mut child)?,
        };
        std::thread::sleep(IDLE);
        let (main_kib, rest_kib) = tree_rss(pid)?;
        list_queues(&http, port)?;
        std::thread::sleep(IDLE);
        let (main, rest) = tree_rss(pid)?;
        Ok(PeerSample {
            start: StartupSample {
                ready: answered - spawned,
                main_kib,
                rest_kib,
            },
            after_call_kib: main + rest,
        })
    })();
    signal(&format!("-{pid}"), "-TERM");
    if !wait_for(&mut child, Duration::from_secs(15)) {
        signal(&format!("-{pid}"), "-KILL");
        let _ = child.wait();
    }
    measured.map_err(|e: String| {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "{}: {e}; log:\n{}",
            kind.label(),
            lines[lines.len().saturating_sub(20)..].join("\n")
        )
    })
}

/// A first start of `alien emulate`, not measured (the first start after a build reads the
/// binary and the app from disk); what it served, for the log.
fn warm_up_emulation() -> Result<String> {
    let emulation = Emulation::start("aws", None)?;
    Ok(format!(
        "control {}, gateway {}, app {}, ready in {:.3} s",
        emulation.control,
        emulation.gateway,
        emulation.app,
        emulation.ready.as_secs_f64()
    ))
}

pub fn startup() -> Result<()> {
    let runs = env_usize("BENCH_PEERS_RUNS", 3)?.max(1);
    let moto = env_path("BENCH_PEERS_MOTO_SERVER");
    let localstack = env_path("BENCH_PEERS_LOCALSTACK_PYTHON");
    let (_config_dir, config) = prebuilt_config()?;
    eprintln!("alien emulate (warm-up start): {}", warm_up_emulation()?);

    let mut built: Vec<StartupSample> = Vec::new();
    let mut mapped: Vec<StartupSample> = Vec::new();
    let mut peers: Vec<(PeerKind, PathBuf, Vec<PeerSample>)> = Vec::new();
    if let Some(path) = moto {
        peers.push((PeerKind::Moto, path, Vec::new()));
    }
    if let Some(path) = localstack {
        peers.push((PeerKind::LocalStack, path, Vec::new()));
    }
    for run in 1..=runs {
        let s = alien_startup(Some(&config))?;
        eprintln!(
            "run {run}: alien emulate (prebuilt command) ready {:.3} s, {:.1} + {:.1} MiB",
            s.ready.as_secs_f64(),
            mib(s.main_kib),
            mib(s.rest_kib)
        );
        mapped.push(s);
        let s = alien_startup(None)?;
        eprintln!(
            "run {run}: alien emulate (cargo build no-op) ready {:.3} s, {:.1} + {:.1} MiB",
            s.ready.as_secs_f64(),
            mib(s.main_kib),
            mib(s.rest_kib)
        );
        built.push(s);
        for (kind, path, samples) in &mut peers {
            let s = peer_startup(*kind, path)?;
            eprintln!(
                "run {run}: {} ready {:.3} s, {:.1} + {:.1} MiB idle, {:.1} MiB after ListQueues",
                kind.label(),
                s.start.ready.as_secs_f64(),
                mib(s.start.main_kib),
                mib(s.start.rest_kib),
                mib(s.after_call_kib)
            );
            samples.push(s);
        }
    }

    let summary = |samples: &[&StartupSample]| {
        let ready: Vec<f64> = samples.iter().map(|s| s.ready.as_secs_f64()).collect();
        let main: Vec<u64> = samples.iter().map(|s| s.main_kib).collect();
        let rest: Vec<u64> = samples.iter().map(|s| s.rest_kib).collect();
        let total: Vec<u64> = samples.iter().map(|s| s.main_kib + s.rest_kib).collect();
        let runs: Vec<String> = ready.iter().map(|r| format!("{r:.3}")).collect();
        (
            median(&ready),
            runs.join(" / "),
            median(&main),
            median(&rest),
            median(&total),
        )
    };
    let base = summary(&mapped.iter().collect::<Vec<_>>());
    println!();
    println!(
        "| process | ready s, median ({runs} runs) | ready vs alien emulate | RSS MiB idle: main | children | total | total vs alien emulate | RSS MiB total 5 s after one SQS call |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let row = |name: &str, samples: &[&StartupSample], after_call: String| {
        let (ready, all, main, rest, total) = summary(samples);
        println!(
            "| {name} | {ready:.3} ({all}) | {:.2}× | {:.1} | {:.1} | {:.1} | {:.2}× | {after_call} |",
            ready / base.0,
            mib(main),
            mib(rest),
            mib(total),
            total as f64 / base.4 as f64,
        );
    };
    row(
        "`alien emulate` (app as prebuilt command)",
        &mapped.iter().collect::<Vec<_>>(),
        "– (not measured)".into(),
    );
    row(
        "`alien emulate` (app via `cargo build`, no-op)",
        &built.iter().collect::<Vec<_>>(),
        "– (not measured)".into(),
    );
    for (kind, _, samples) in &peers {
        let after: Vec<u64> = samples.iter().map(|s| s.after_call_kib).collect();
        row(
            kind.label(),
            &samples.iter().map(|s| &s.start).collect::<Vec<_>>(),
            format!("{:.1}", mib(median(&after))),
        );
    }
    if peers.len() < 2 {
        println!(
            "\n(a peer without BENCH_PEERS_MOTO_SERVER / BENCH_PEERS_LOCALSTACK_PYTHON is not measured)"
        );
    }
    println!();
    println!(
        "Emulator process alone (without the app): {:.1} MiB; peers' idle total / that: {}",
        mib(base.2),
        peers
            .iter()
            .map(|(kind, _, samples)| {
                let total: Vec<u64> = samples
                    .iter()
                    .map(|s| s.start.main_kib + s.start.rest_kib)
                    .collect();
                format!(
                    "{} {:.2}×",
                    kind.label(),
                    median(&total) as f64 / base.2 as f64
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
