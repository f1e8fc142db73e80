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
#[path = "peers/startup.rs"]
mod startup;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use alien_emulator::Platform;
use alien_emulator::conformance::{AwsTarget, EmulatorTarget, QueueSetup, Target};
use alien_providers::{Payload, QueueProvider, ReceiveOptions, SendOutcome};
use serde_json::json;

use common::{Emulation, Latency, Result, env_usize, latency, median, micros, prebuilt_config};

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
            "startup" => Some(startup::startup()),
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
