//! `alien emulate` measured from the outside, against the real worker app
//! (tests/fixtures/worker-app, published alien-sdk 3.3.49) behind `examples/hello-worker`.
//!
//! Run through `scripts/bench-emulate.sh` (which builds everything, installs moto into a
//! throw-away venv and notes the machine), or directly:
//!
//! ```sh
//! BENCH_EMULATE_PARTS=load cargo bench --bench emulate
//! BENCH_EMULATE_PARTS=startup BENCH_EMULATE_MOTO=/tmp/x/venv/bin/moto_server cargo bench --bench emulate
//! ```
//!
//! Parts (`BENCH_EMULATE_PARTS`, comma separated, default `startup,load`):
//! - `startup`: time from spawning `alien emulate` until the status table is printed and the
//!   control API's `GET /status` answers, then RSS of the emulator and of the app process after
//!   5 s idle; the same for `moto_server` (until `GET /moto-api/` answers) when
//!   `BENCH_EMULATE_MOTO` names its executable. `BENCH_EMULATE_RUNS` runs each (default 3),
//!   interleaved, median reported.
//! - `load`: on the aws and local profiles, gateway overhead (1 000 sequential `GET /health`
//!   through the gateway and directly to the app port, interleaved, one keep-alive client) and
//!   queue throughput (`BENCH_EMULATE_MESSAGES` messages, default 500, sent through the control
//!   API by 4 threads, timed until every one is `acked` in the trace).
//! - `instances` (not in the default): the same queue throughput on aws with the no-op
//!   handler, `BENCH_EMULATE_MESSAGES` messages (default 3 000), with `--max-instances 1` and
//!   `4`, and with the `alien` named by `BENCH_EMULATE_BEFORE` (a build from before instance
//!   pools, one process per worker) when set. `BENCH_EMULATE_RUNS` runs each (default 3),
//!   interleaved, median reported.
//!
//! Every server listens on 127.0.0.1; every child is stopped at the end (SIGINT, then SIGKILL
//! after a grace period), and `alien emulate` runs with `--stop-after 3m` as a backstop.

mod common;

use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};

use common::{
    Emulation, IDLE, Latency, Launch, Result, StartupSample, alien_startup, client, env_usize,
    free_port, latency, median, mib, micros, poll_until_ok, prebuilt_config, rss_kib, signal, tree,
    wait_for,
};

const GATEWAY_REQUESTS: usize = 1_000;
const WARM_UP: usize = 50;
const SENDERS: usize = 4;
const ACK_DEADLINE: Duration = Duration::from_secs(90);

fn main() {
    common::run_parts(
        "emulate",
        "BENCH_EMULATE_PARTS",
        "startup,load",
        |part| match part {
            "startup" => Some(startup()),
            "load" => Some(load()),
            "instances" => Some(instances()),
            _ => None,
        },
    );
}

// ---------------------------------------------------------------------------------------------
// startup

fn moto_startup(moto: &Path) -> Result<StartupSample> {
    let port = free_port()?;
    let spawned = Instant::now();
    let mut child = Command::new(moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", moto.display()))?;
    let pid = child.id();
    let measured = (|| {
        let answered = poll_until_ok(
            &client(),
            &format!("http://127.0.0.1:{port}/moto-api/"),
            &mut child,
            Duration::from_secs(60),
        )?;
        std::thread::sleep(IDLE);
        let main_kib = rss_kib(pid).ok_or("moto_server exited while idle")?;
        let rest_kib = tree(pid).into_iter().skip(1).filter_map(rss_kib).sum();
        Ok(StartupSample {
            ready: answered - spawned,
            main_kib,
            rest_kib,
        })
    })();
    signal(&format!("-{pid}"), "-TERM");
    if !wait_for(&mut child, Duration::from_secs(5)) {
        signal(&format!("-{pid}"), "-KILL");
        let _ = child.wait();
    }
    measured
}

fn startup() -> Result<()> {
    let runs = env_usize("BENCH_EMULATE_RUNS", 3)?.max(1);
    let moto = std::env::var_os("BENCH_EMULATE_MOTO").map(PathBuf::from);
    // The second variant maps the app to its already-built executable, so no `cargo build`
    // runs at start-up (what a stack with an `alien-emulate.toml` command mapping pays).
    let (_config_dir, config) = prebuilt_config()?;

    let mut built: Vec<StartupSample> = Vec::new();
    let mut mapped: Vec<StartupSample> = Vec::new();
    let mut motos: Vec<StartupSample> = Vec::new();
    for run in 1..=runs {
        let s = alien_startup(None)?;
        eprintln!(
            "run {run}: alien emulate (cargo build no-op) ready {:.3} s, emulator {:.1} MiB, app {:.1} MiB",
            s.ready.as_secs_f64(),
            mib(s.main_kib),
            mib(s.rest_kib)
        );
        built.push(s);
        let s = alien_startup(Some(&config))?;
        eprintln!(
            "run {run}: alien emulate (prebuilt command) ready {:.3} s, emulator {:.1} MiB, app {:.1} MiB",
            s.ready.as_secs_f64(),
            mib(s.main_kib),
            mib(s.rest_kib)
        );
        mapped.push(s);
        if let Some(moto) = &moto {
            let s = moto_startup(moto)?;
            eprintln!(
                "run {run}: moto_server ready {:.3} s, {:.1} MiB (+{:.1} MiB children)",
                s.ready.as_secs_f64(),
                mib(s.main_kib),
                mib(s.rest_kib)
            );
            motos.push(s);
        }
    }

    let row = |name: &str, samples: &[StartupSample], other: &str| {
        let ready: Vec<f64> = samples.iter().map(|s| s.ready.as_secs_f64()).collect();
        let main: Vec<u64> = samples.iter().map(|s| s.main_kib).collect();
        let rest: Vec<u64> = samples.iter().map(|s| s.rest_kib).collect();
        let all: Vec<String> = ready.iter().map(|r| format!("{r:.3}")).collect();
        println!(
            "| {name} | {:.3} ({}) | {:.1} | {other}{:.1} | {:.1} |",
            median(&ready),
            all.join(" / "),
            mib(median(&main)),
            mib(median(&rest)),
            mib(median(&main) + median(&rest)),
        );
        (median(&ready), median(&main) + median(&rest), median(&main))
    };
    println!();
    println!(
        "| process | ready s, median ({runs} runs) | RSS MiB, main process | RSS MiB, app / children | RSS MiB, total |"
    );
    println!("|---|---|---|---|---|");
    let (built_ready, built_total, built_main) = row(
        "`alien emulate` (app via `cargo build`, no-op)",
        &built,
        "app ",
    );
    let (mapped_ready, mapped_total, mapped_main) =
        row("`alien emulate` (app as prebuilt command)", &mapped, "app ");
    if motos.is_empty() {
        println!("| moto_server | not measured: BENCH_EMULATE_MOTO unset | | | |");
        return Ok(());
    }
    let (moto_ready, moto_total, _) = row("`moto_server`", &motos, "");
    println!();
    for (name, ready, total, main) in [
        ("cargo build no-op", built_ready, built_total, built_main),
        ("prebuilt command", mapped_ready, mapped_total, mapped_main),
    ] {
        println!(
            "- alien emulate ({name}) / moto_server: ready time {:.2}×, emulator RSS {:.2}×, emulator + app RSS {:.2}×",
            ready / moto_ready,
            main as f64 / moto_total as f64,
            total as f64 / moto_total as f64
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// load: gateway overhead and queue throughput

fn get_health(http: &Client, url: &str) -> Result<Duration> {
    let started = Instant::now();
    let response = http
        .get(url)
        .send()
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status();
    let body = response.bytes().map_err(|e| format!("GET {url}: {e}"))?;
    let took = started.elapsed();
    if !status.is_success() || !body.starts_with(b"{\"status\":\"ok\"") {
        return Err(format!(
            "GET {url}: {status} {}",
            String::from_utf8_lossy(&body)
        ));
    }
    Ok(took)
}

fn gateway_overhead(emulation: &Emulation) -> Result<(Latency, Latency)> {
    // One client, connections kept alive in its pool (one per host).
    let http = Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(1)
        .build()
        .map_err(|e| e.to_string())?;
    let via_gateway = format!("{}/health", emulation.gateway);
    let direct = format!("{}/health", emulation.app);
    for _ in 0..WARM_UP {
        get_health(&http, &via_gateway)?;
        get_health(&http, &direct)?;
    }
    let mut gateway = Vec::with_capacity(GATEWAY_REQUESTS);
    let mut app = Vec::with_capacity(GATEWAY_REQUESTS);
    // Interleaved, alternating which goes first, so drift in the machine's load hits both.
    for i in 0..GATEWAY_REQUESTS {
        if i % 2 == 0 {
            gateway.push(get_health(&http, &via_gateway)?);
            app.push(get_health(&http, &direct)?);
        } else {
            app.push(get_health(&http, &direct)?);
            gateway.push(get_health(&http, &via_gateway)?);
        }
    }
    Ok((latency(gateway), latency(app)))
}

struct Throughput {
    sent: usize,
    send_time: Duration,
    total: Duration,
    acked: usize,
    /// When the first and the middle message were acked (from the first send).
    first_ack: Option<Duration>,
    half_acked: Option<Duration>,
    deliveries: usize,
    failures: usize,
}

fn trace_after(http: &Client, control: &str, after: Option<u64>, wait: u64) -> Result<Vec<Value>> {
    let url = match after {
        Some(seq) => format!("{control}/trace?after={seq}&wait={wait}"),
        None => format!("{control}/trace?wait=0"),
    };
    let response = http
        .get(&url)
        .send()
        .map_err(|e| format!("GET {url}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("GET {url}: {}", response.status()));
    }
    response
        .json::<Vec<Value>>()
        .map_err(|e| format!("GET {url}: {e}"))
}

fn throughput(emulation: &Emulation, messages: usize) -> Result<Throughput> {
    let http = client();
    let control = emulation.control.clone();
    let mut last = trace_after(&http, &control, None, 0)?
        .last()
        .and_then(|e| e["seq"].as_u64());
    let url = format!("{control}/queues/jobs/messages");
    let started = Instant::now();
    let senders: Vec<_> = (0..SENDERS)
        .map(|k| {
            let url = url.clone();
            std::thread::spawn(move || -> Result<usize> {
                let http = client();
                let mut sent = 0;
                for n in (k..messages).step_by(SENDERS) {
                    let response = http
                        .post(&url)
                        .json(&json!({ "json": { "n": n } }))
                        .send()
                        .map_err(|e| format!("POST {url}: {e}"))?;
                    if !response.status().is_success() {
                        let status = response.status();
                        return Err(format!(
                            "POST {url}: {status} {}",
                            response.text().unwrap_or_default()
                        ));
                    }
                    sent += 1;
                }
                Ok(sent)
            })
        })
        .collect();
    let mut sent = 0;
    for sender in senders {
        sent += sender.join().map_err(|_| "a sender panicked")??;
    }
    let send_time = started.elapsed();
    let mut acked = BTreeSet::new();
    let (mut deliveries, mut failures) = (0, 0);
    let (mut first_ack, mut half_acked) = (None, None);
    let deadline = started + ACK_DEADLINE;
    while acked.len() < sent && Instant::now() < deadline {
        for event in trace_after(&http, &control, last, 2)? {
            last = event["seq"].as_u64().or(last);
            if event["resource"] != "jobs" {
                continue;
            }
            match event["kind"].as_str() {
                Some("acked") => {
                    acked.insert(event["subject"].as_str().unwrap_or("").to_string());
                    // As seen by the trace long-poll, which answers as soon as there is news.
                    first_ack = first_ack.or(Some(started.elapsed()));
                    if half_acked.is_none() && acked.len() * 2 >= sent {
                        half_acked = Some(started.elapsed());
                    }
                }
                Some("delivered") => deliveries += 1,
                Some("failed" | "timed_out" | "crashed" | "lease_expired") => failures += 1,
                _ => {}
            }
        }
    }
    Ok(Throughput {
        sent,
        send_time,
        total: started.elapsed(),
        acked: acked.len(),
        first_ack,
        half_acked,
        deliveries,
        failures,
    })
}

fn secs(d: Option<Duration>) -> String {
    d.map_or_else(|| "–".into(), |d| format!("{:.2}", d.as_secs_f64()))
}

fn load() -> Result<()> {
    let messages = env_usize("BENCH_EMULATE_MESSAGES", 500)?.max(1);
    let mut gateway_rows = Vec::new();
    let mut queue_rows = Vec::new();
    for platform in ["aws", "local"] {
        let emulation = Emulation::start(platform, None)?;
        eprintln!(
            "{platform}: ready in {:.3} s; control {}, gateway {}, app {}",
            emulation.ready.as_secs_f64(),
            emulation.control,
            emulation.gateway,
            emulation.app
        );
        let (gw, app) = gateway_overhead(&emulation)?;
        eprintln!(
            "{platform}: gateway p50 {:.0} µs p99 {:.0} µs; direct p50 {:.0} µs p99 {:.0} µs",
            micros(gw.p50),
            micros(gw.p99),
            micros(app.p50),
            micros(app.p99)
        );
        gateway_rows.push(format!(
            "| {platform} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | +{:.0} µs ({:.2}×) | +{:.0} µs ({:.2}×) |",
            micros(gw.p50),
            micros(gw.p99),
            micros(gw.mean),
            micros(app.p50),
            micros(app.p99),
            micros(app.mean),
            micros(gw.p50) - micros(app.p50),
            gw.p50.as_secs_f64() / app.p50.as_secs_f64(),
            micros(gw.p99) - micros(app.p99),
            gw.p99.as_secs_f64() / app.p99.as_secs_f64(),
        ));
        let t = throughput(&emulation, messages)?;
        eprintln!(
            "{platform}: {} sent in {:.2} s, {} acked after {:.2} s",
            t.sent,
            t.send_time.as_secs_f64(),
            t.acked,
            t.total.as_secs_f64()
        );
        let rate = if t.acked == t.sent {
            format!("{:.0}", t.acked as f64 / t.total.as_secs_f64())
        } else {
            format!(
                "not all acked within {} s: {} of {}",
                ACK_DEADLINE.as_secs(),
                t.acked,
                t.sent
            )
        };
        queue_rows.push(format!(
            "| {platform} | {} | {:.2} | {:.0} | {} | {} | {:.2} | {rate} | {} | {} |",
            t.sent,
            t.send_time.as_secs_f64(),
            t.sent as f64 / t.send_time.as_secs_f64(),
            secs(t.first_ack),
            secs(t.half_acked),
            t.total.as_secs_f64(),
            t.deliveries,
            t.failures,
        ));
        drop(emulation);
    }
    println!();
    println!(
        "| profile | gateway p50 µs | gateway p99 µs | gateway mean µs | direct p50 µs | direct p99 µs | direct mean µs | p50 overhead | p99 overhead |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for row in gateway_rows {
        println!("{row}");
    }
    println!();
    println!(
        "| profile | messages | send phase s | sends/s | first ack s | half acked s | all acked s | acked msgs/s end to end | deliveries | failed attempts |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for row in queue_rows {
        println!("{row}");
    }
    Ok(())
}

/// One row of the `instances` part: a label, the `alien` to run and its extra arguments.
struct Variant {
    label: String,
    exe: PathBuf,
    args: Vec<String>,
}

fn instance_variants() -> Vec<Variant> {
    let mut variants = Vec::new();
    if let Ok(before) = std::env::var("BENCH_EMULATE_BEFORE") {
        variants.push(Variant {
            label: "before (one process per worker)".into(),
            exe: PathBuf::from(before),
            args: vec!["--cold-start".into(), "off".into()],
        });
    }
    for n in [1, 4] {
        variants.push(Variant {
            label: format!("--max-instances {n}"),
            exe: PathBuf::from(env!("CARGO_BIN_EXE_alien")),
            args: vec![
                "--cold-start".into(),
                "off".into(),
                "--max-instances".into(),
                n.to_string(),
            ],
        });
    }
    variants
}

/// Acked messages per second end to end, or why not.
fn acked_rate(t: &Throughput) -> Result<f64> {
    if t.acked < t.sent {
        return Err(format!(
            "not all acked within {} s: {} of {}",
            ACK_DEADLINE.as_secs(),
            t.acked,
            t.sent
        ));
    }
    Ok(t.acked as f64 / t.total.as_secs_f64())
}

fn instances() -> Result<()> {
    let messages = env_usize("BENCH_EMULATE_MESSAGES", 3_000)?.max(1);
    let runs = env_usize("BENCH_EMULATE_RUNS", 3)?.max(1);
    let variants = instance_variants();
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for run in 0..runs {
        for (variant, rates) in variants.iter().zip(&mut rates) {
            let mut launch = Launch::new("aws");
            launch.exe = variant.exe.clone();
            launch.args = variant.args.clone();
            let emulation = Emulation::launch(&launch)?;
            let t = throughput(&emulation, messages)?;
            let rate = acked_rate(&t)?;
            eprintln!(
                "run {run}: {}: {} acked in {:.2} s = {rate:.0} msgs/s ({} deliveries)",
                variant.label,
                t.acked,
                t.total.as_secs_f64(),
                t.deliveries
            );
            rates.push(rate);
            drop(emulation);
        }
    }
    let first = median(&rates[0]);
    println!();
    println!(
        "| aws, no-op handler | messages | acked msgs/s end to end, median ({runs} runs) | runs | ÷ first row |"
    );
    println!("|---|---|---|---|---|");
    for (variant, rates) in variants.iter().zip(&rates) {
        let all: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        let mid = median(rates);
        println!(
            "| {} | {messages} | **{mid:.0}** | {} | {:.2}× |",
            variant.label,
            all.join(" / "),
            mid / first
        );
    }
    Ok(())
}
