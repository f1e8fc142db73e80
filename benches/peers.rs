//! `alien emulate` and the emulator's AWS profile next to the AWS conformance peers (moto,
//! LocalStack host mode) on the same machine, in one run.
//!
//! Run through `scripts/bench-peers.sh` (which builds with `--features aws`, starts and stops the
//! peers through scripts/peers and notes the machine), or directly:
//!
//! ```sh
//! BENCH_PEERS_PARTS=startup \
//!   BENCH_PEERS_MOTO_SERVER=~/.cache/alien-emulator/peers/moto/bin/moto_server \
//!   BENCH_PEERS_LOCALSTACK_PYTHON=~/.cache/alien-emulator/peers/localstack/bin/python \
//!   cargo bench --features aws --bench peers
//! BENCH_PEERS_PARTS=queue BENCH_PEERS_MOTO_URL=$(scripts/peers/moto.sh start) \
//!   cargo bench --features aws --bench peers
//! ```
//!
//! Parts (`BENCH_PEERS_PARTS`, comma separated, default `startup,queue`):
//! - `startup`: time to ready and RSS after 5 s idle (process tree) of `alien emulate
//!   examples/hello-worker --platform aws` (the app through its `cargo build` no-op, and as a
//!   prebuilt command), `moto_server` (`BENCH_PEERS_MOTO_SERVER`) and LocalStack host mode
//!   (`BENCH_PEERS_LOCALSTACK_PYTHON`: the python of its venv), spawned with the command lines
//!   of scripts/peers; for the peers also the RSS 5 s after one SQS call (`ListQueues`: both load
//!   services lazily). `BENCH_PEERS_RUNS` runs each (default 3), interleaved, median reported.
//! - `queue`: one generic loop over [`Target`]: send `BENCH_PEERS_MESSAGES` messages (default
//!   500) one by one (or in `send_batch` calls of 10), then receive up to 10 per call and ack
//!   each, until all are acked. Against the in-process [`EmulatorTarget`] (virtual time, no
//!   HTTP), and the same AWS adapter code against moto (`BENCH_PEERS_MOTO_URL`), LocalStack
//!   (`BENCH_PEERS_LOCALSTACK_URL`) and the SQS endpoint of an `alien emulate` the bench starts
//!   (release, app prebuilt). `BENCH_PEERS_RUNS` runs each, interleaved, after a warm-up.
//!
//! Every server listens on 127.0.0.1; everything the bench spawns is stopped before it returns.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alien_emulator::Platform;
use alien_emulator::conformance::{AwsTarget, EmulatorTarget, QueueSetup, Target};
use alien_providers::{Payload, QueueProvider, ReceiveOptions, SendOutcome};
use reqwest::blocking::Client;
use serde_json::json;

use common::{
    Emulation, IDLE, Latency, Result, StartupSample, alien_startup, client, env_usize, free_port,
    latency, median, mib, micros, poll_until_ok, prebuilt_config, rss_kib, signal, tree, wait_for,
};

/// Messages per receive call (SQS's maximum) and per `send_batch` call.
const BATCH: usize = 10;
/// Messages of the warm-up round against each target (not measured).
const WARM_UP: usize = 20;
/// Longest a queue run may take before it is reported as failed.
const QUEUE_DEADLINE: Duration = Duration::from_secs(120);

fn main() {
    common::run_parts("peers", "BENCH_PEERS_PARTS", "startup,queue", |part| {
        println!();
        println!("Machine: {}", machine());
        match part {
            "startup" => Some(startup()),
            "queue" => Some(queue()),
            _ => None,
        }
    });
}

/// `nproc`, CPU model and the load average right now.
fn machine() -> String {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "nproc {nproc}, CPU \"{cpu}\", load average (1/5/15 min) before this part: {}",
        load.join(" ")
    )
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

// ---------------------------------------------------------------------------------------------
// startup

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

fn startup() -> Result<()> {
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

// ---------------------------------------------------------------------------------------------
// queue

/// One pass of the queue loop: wall time and the latency of every call.
struct QueueSample {
    total: Duration,
    send: Vec<Duration>,
    receive: Vec<Duration>,
    ack: Vec<Duration>,
    empty_receives: usize,
}

/// Sends `messages` (one by one, or `send_batch` calls of [`BATCH`] when `batch`), then
/// receives up to 10 per call and acks each until all are acked; the same code for every
/// target.
async fn queue_pass<T: Target>(
    target: &T,
    name: &str,
    messages: usize,
    batch: bool,
) -> Result<QueueSample> {
    let fail =
        |what: &str, e: alien_providers::ProviderError| format!("{}: {what}: {e}", target.name());
    let queue = target
        .queue(&QueueSetup {
            name: name.to_string(),
            visibility_timeout: Duration::from_secs(60),
            max_message_bytes: None,
            max_receive_count: None,
        })
        .await
        .map_err(|e| fail("create queue", e))?;
    let payload = |n: usize| Payload::Json(json!({ "n": n }));
    let started = Instant::now();
    let mut send = Vec::new();
    if batch {
        for first in (0..messages).step_by(BATCH) {
            let payloads = (first..(first + BATCH).min(messages))
                .map(payload)
                .collect();
            let call = Instant::now();
            let outcomes = queue
                .send_batch(payloads)
                .await
                .map_err(|e| fail("send_batch", e))?;
            send.push(call.elapsed());
            if let Some(bad) = outcomes.iter().find(|o| !matches!(o, SendOutcome::Sent(_))) {
                return Err(format!("{}: send_batch entry: {bad:?}", target.name()));
            }
        }
    } else {
        for n in 0..messages {
            let call = Instant::now();
            queue.send(payload(n)).await.map_err(|e| fail("send", e))?;
            send.push(call.elapsed());
        }
    }
    let (mut receive, mut ack) = (Vec::new(), Vec::new());
    let (mut acked, mut empty_receives) = (0, 0);
    while acked < messages {
        if started.elapsed() > QUEUE_DEADLINE {
            return Err(format!(
                "{}: only {acked} of {messages} acked within {QUEUE_DEADLINE:?}",
                target.name()
            ));
        }
        let call = Instant::now();
        let received = queue
            .receive(ReceiveOptions::new(BATCH as u32))
            .await
            .map_err(|e| fail("receive", e))?;
        receive.push(call.elapsed());
        if received.is_empty() {
            empty_receives += 1;
        }
        for message in received {
            let call = Instant::now();
            queue
                .ack(&message.receipt)
                .await
                .map_err(|e| fail("ack", e))?;
            ack.push(call.elapsed());
            acked += 1;
        }
    }
    Ok(QueueSample {
        total: started.elapsed(),
        send,
        receive,
        ack,
        empty_receives,
    })
}

/// The targets of the queue part, in the order they run.
struct Targets {
    emulator: EmulatorTarget,
    moto: Option<AwsTarget>,
    localstack: Option<AwsTarget>,
    /// The AWS adapter against `alien emulate`'s SQS endpoint (its control port).
    emulate: AwsTarget,
}

/// One pass against target number `index` of [`Targets`] (0 emulator, 1 moto, 2 LocalStack,
/// 3 `alien emulate`); `None` when that peer is not configured.
async fn pass_on(
    targets: &Targets,
    index: usize,
    name: &str,
    messages: usize,
    batch: bool,
) -> Option<Result<QueueSample>> {
    match index {
        0 => Some(queue_pass(&targets.emulator, name, messages, batch).await),
        1 => match &targets.moto {
            Some(t) => Some(queue_pass(t, name, messages, batch).await),
            None => None,
        },
        2 => match &targets.localstack {
            Some(t) => Some(queue_pass(t, name, messages, batch).await),
            None => None,
        },
        _ => Some(queue_pass(&targets.emulate, name, messages, batch).await),
    }
}

/// `d` in µs, one decimal below 10 µs.
fn us(d: Duration) -> String {
    let v = micros(d);
    if v < 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// A ratio with as many decimals as make it readable.
fn ratio(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}×")
    } else if r >= 10.0 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}×")
    }
}

fn percentiles(l: &Latency) -> String {
    format!("{} / {} / {}", us(l.p50), us(l.p99), us(l.mean))
}

fn queue() -> Result<()> {
    let runs = env_usize("BENCH_PEERS_RUNS", 3)?.max(1);
    let messages = env_usize("BENCH_PEERS_MESSAGES", 500)?.max(1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let stamp = chrono::Utc::now().format("%H%M%S").to_string();
    // `alien emulate` (release, app prebuilt) serving its SQS endpoint for the whole part.
    let (_config_dir, config) = prebuilt_config()?;
    let mut emulation = Emulation::start("aws", Some(&config))?;
    let control = emulation.control.clone();
    let result = runtime.block_on(async {
        let peer = |name: &'static str, var: &str| {
            let url = std::env::var(var).ok().filter(|u| !u.is_empty());
            async move {
                match url {
                    Some(url) => Some(AwsTarget::peer(name, &url).await),
                    None => None,
                }
            }
        };
        let targets = Targets {
            emulator: EmulatorTarget::new(Platform::Aws, chrono::Utc::now().date_naive()),
            moto: peer("moto", "BENCH_PEERS_MOTO_URL").await,
            localstack: peer("localstack", "BENCH_PEERS_LOCALSTACK_URL").await,
            emulate: AwsTarget::peer("alien emulate", &control).await,
        };
        let names = [
            "emulator (in-process)",
            "moto",
            "LocalStack",
            "`alien emulate` SQS endpoint",
        ];
        // Warm-up: connections, the peers' lazy service loading, first-call allocations.
        for index in 0..names.len() {
            if let Some(pass) =
                pass_on(&targets, index, &format!("bench-warm-{stamp}-{index}"), WARM_UP, false).await
            {
                pass?;
            }
        }
        // samples[variant][target]
        let mut samples: Vec<Vec<Vec<QueueSample>>> = (0..2)
            .map(|_| (0..names.len()).map(|_| Vec::new()).collect())
            .collect();
        for run in 1..=runs {
            for (variant, batch) in [false, true].into_iter().enumerate() {
                for (index, label) in names.iter().enumerate() {
                    let name = format!("bench-{stamp}-{run}-{variant}-{index}");
                    let Some(pass) = pass_on(&targets, index, &name, messages, batch).await else {
                        continue;
                    };
                    let s = pass?;
                    eprintln!(
                        "run {run}: {label} {}: {messages} in {:.3} s ({:.0} msgs/s), {} receives ({} empty)",
                        if batch { "batch" } else { "single" },
                        s.total.as_secs_f64(),
                        messages as f64 / s.total.as_secs_f64(),
                        s.receive.len(),
                        s.empty_receives
                    );
                    samples[variant][index].push(s);
                }
            }
        }
        println!();
        println!(
            "| target | sends | msgs/s, median ({runs} runs) | emulator ÷ this | this ÷ moto | send µs p50 / p99 / mean | receive µs p50 / p99 / mean | ack µs p50 / p99 / mean | receive calls per pass (empty) |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        for (variant, per_target) in samples.iter().enumerate() {
            let sends = if variant == 0 {
                "one by one".to_string()
            } else {
                format!("`send_batch` of {BATCH}")
            };
            let rates = |s: &[QueueSample]| -> Vec<f64> {
                s.iter()
                    .map(|s| messages as f64 / s.total.as_secs_f64())
                    .collect()
            };
            let base = median(&rates(&per_target[0]));
            let moto = (!per_target[1].is_empty()).then(|| median(&rates(&per_target[1])));
            for (index, passes) in per_target.iter().enumerate() {
                if passes.is_empty() {
                    println!("| {} | {sends} | not measured: no URL given | | | | | | |", names[index]);
                    continue;
                }
                let rate = rates(passes);
                let all: Vec<String> = rate.iter().map(|r| format!("{r:.0}")).collect();
                let pooled = |pick: fn(&QueueSample) -> &Vec<Duration>| {
                    latency(passes.iter().flat_map(|s| pick(s).iter().copied()).collect())
                };
                let calls: Vec<usize> = passes.iter().map(|s| s.receive.len()).collect();
                let empty: Vec<usize> = passes.iter().map(|s| s.empty_receives).collect();
                println!(
                    "| {} | {sends} | {:.0} ({}) | {} | {} | {} | {} | {} | {} ({}) |",
                    names[index],
                    median(&rate),
                    all.join(" / "),
                    ratio(base / median(&rate)),
                    moto.map_or("–".into(), |m| ratio(median(&rate) / m)),
                    percentiles(&pooled(|s| &s.send)),
                    percentiles(&pooled(|s| &s.receive)),
                    percentiles(&pooled(|s| &s.ack)),
                    median(&calls),
                    median(&empty),
                );
            }
        }
        Ok(())
    });
    emulation.stop();
    result
}
