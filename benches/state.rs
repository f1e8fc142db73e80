//! `alien emulate`'s state layer measured from the outside (issue 10): durable sends at queue
//! depth 0 and at depth, on the three paths that answer only once the message is on disk, next
//! to moto's `SendMessage` at the same depths; and the emulator's memory after a million trace
//! events.
//!
//! Run through `scripts/bench-state.sh` (which builds everything, starts moto through
//! scripts/peers, notes the machine and runs this for the current build and, when given, an
//! older one), or directly:
//!
//! ```sh
//! BENCH_STATE_PARTS=depth BENCH_STATE_MOTO_URL=$(scripts/peers/moto.sh start) \
//!   cargo bench --bench state
//! BENCH_STATE_PARTS=memory cargo bench --bench state
//! ```
//!
//! Stack: tests/fixtures/stacks/emulate-state on the aws profile, the fixture app
//! (tests/fixtures/worker-app, published alien-sdk 3.3.49) mapped to its built executable.
//! Its `backlog` queue has no consumer, so the depth there is what the bench put in.
//!
//! Parts (`BENCH_STATE_PARTS`, comma separated, default `depth,memory`):
//! - `depth`: for each depth in `BENCH_STATE_DEPTHS` (default `0,100000`), for each path and
//!   for 1 and 8 clients: bring `backlog` to the depth (PurgeQueue, then `SendMessageBatch`
//!   of 10 from 8 threads; not timed), then time `BENCH_STATE_MESSAGES` sends (default 5 000,
//!   split over the clients, each client one keep-alive connection sending one message at a
//!   time). Paths: the app's own `local-queue-http` binding (the endpoint and token from the
//!   app's `ALIEN_BACKLOG_BINDING`, read through the app's `GET /env`), the control API's
//!   `POST /queues/backlog/messages`, and the SQS endpoint's `SendMessage`. With
//!   `BENCH_STATE_MOTO_URL`, the same `SendMessage` loop against a fresh moto queue at
//!   `BENCH_STATE_MOTO_DEPTHS` (default `0,2000`: moto's sends slow down with its depth, so a
//!   deeper fill takes hours), `BENCH_STATE_MOTO_MESSAGES` per run (default 500).
//!   `BENCH_STATE_ALIEN` runs another `alien` executable (e.g. an older build) and
//!   `BENCH_STATE_LABEL` names it in the table.
//! - `memory`: a fresh emulator with the default trace retention; 8 threads loop
//!   `SendMessageBatch` (10) → `ReceiveMessage` (10) → `DeleteMessageBatch` on `backlog`, each
//!   message three trace events (sent, delivered, acked), until the answers add up to
//!   `BENCH_STATE_TRACE_EVENTS` (default 1 000 000); the trace's own sequence numbers are then
//!   checked to reach that count. Reports the emulator process's RSS (VmRSS) before, after, its
//!   peak (VmHWM) and the state file's size.
//!
//! Every server listens on 127.0.0.1; everything the bench spawns is stopped before it returns.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::sqs::{Sqs, http, sqs_headers};
use common::{
    Emulation, Launch, Result, env_usize, mib, on_threads, prebuilt_config, rss_kib, status_kib,
};

const STACK: &str = "tests/fixtures/stacks/emulate-state";
const QUEUE: &str = "backlog";
/// Threads that fill a queue to its depth (not timed) and that drive the memory part.
const FILLERS: usize = 8;
/// Client counts each path is timed with.
const CLIENTS: [usize; 2] = [1, 8];

fn main() {
    common::run_parts(
        "state",
        "BENCH_STATE_PARTS",
        "depth,memory",
        |part| match part {
            "depth" => Some(depth()),
            "memory" => Some(memory()),
            _ => None,
        },
    );
}

/// Starts the state stack on aws with `exe`, the app prebuilt, stopped after `stop_after`.
fn launch(exe: &Path, config: &Path, stop_after: &str) -> Result<Emulation> {
    let mut launch = Launch::new("aws");
    launch.exe = exe.to_path_buf();
    launch.stack = STACK.to_string();
    launch.config = Some(config.to_path_buf());
    launch.stop_after = stop_after.to_string();
    Emulation::launch(&launch)
}

// ---------------------------------------------------------------------------------------------
// depth

/// One durable send: the request that sends message `i` on a path. The timed clients are
/// async (reqwest on a current-thread runtime per client), as the app's own binding client is.
trait SendPath: Sync {
    fn request(&self, http: &reqwest::Client, i: usize) -> reqwest::RequestBuilder;
}

/// The app's `local-queue-http` binding: the queue owner protocol, with the app's token.
struct Binding {
    endpoint: String,
    token: String,
}

impl SendPath for Binding {
    fn request(&self, http: &reqwest::Client, i: usize) -> reqwest::RequestBuilder {
        let body = json!({"operation": "send", "message": {"type": "text", "data": format!("binding-{i}")}});
        http.post(&self.endpoint)
            .bearer_auth(&self.token)
            .json(&body)
    }
}

/// The control API's `POST /queues/{queue}/messages`.
struct ControlApi {
    control: String,
}

impl SendPath for ControlApi {
    fn request(&self, http: &reqwest::Client, i: usize) -> reqwest::RequestBuilder {
        http.post(format!("{}/queues/{QUEUE}/messages", self.control))
            .json(&json!({"text": format!("control-{i}")}))
    }
}

impl SendPath for Sqs {
    fn request(&self, http: &reqwest::Client, i: usize) -> reqwest::RequestBuilder {
        let body = json!({"QueueUrl": self.queue_url, "MessageBody": format!("sqs-{i}")});
        let mut request = http.post(format!("{}/", self.endpoint)).json(&body);
        for (name, value) in sqs_headers("SendMessage") {
            request = request.header(name, value);
        }
        request
    }
}

/// Sends `messages` through `path` from `clients` threads (each its own connection, one send
/// at a time, every answer checked to be a success); messages per second over the whole run.
fn time_sends(path: &dyn SendPath, clients: usize, messages: usize) -> Result<f64> {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    on_threads(clients, || client_sends(path, &next, messages))?;
    Ok(messages as f64 / started.elapsed().as_secs_f64())
}

/// One client: takes message numbers from `next` until `messages` are sent.
fn client_sends(path: &dyn SendPath, next: &AtomicUsize, messages: usize) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= messages {
                return Ok(());
            }
            let response = path
                .request(&http, i)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            if !status.is_success() {
                let text = response.text().await.unwrap_or_default();
                return Err(format!("send {i}: {status}: {text}"));
            }
        }
    })
}

/// One timed run: which target and path, at which depth, with how many clients.
struct Row {
    target: String,
    path: &'static str,
    clients: usize,
    depth: usize,
    messages: usize,
    rate: f64,
}

fn depth() -> Result<()> {
    let depths = counts("BENCH_STATE_DEPTHS", "0,100000")?;
    let messages = env_usize("BENCH_STATE_MESSAGES", 5_000)?.max(1);
    let exe = std::env::var_os("BENCH_STATE_ALIEN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_alien")));
    let label = std::env::var("BENCH_STATE_LABEL").unwrap_or_else(|_| "alien emulate".into());
    let (_config_dir, config) = prebuilt_config()?;

    let mut rows = Vec::new();
    let emulation = launch(&exe, &config, "60m")?;
    let sqs = Sqs {
        endpoint: emulation.control.clone(),
        queue_url: format!("{}/000000000000/{QUEUE}", emulation.control),
    };
    let binding = binding(&emulation)?;
    let control = ControlApi {
        control: emulation.control.clone(),
    };
    let paths: [(&'static str, &dyn SendPath); 3] = [
        ("binding", &binding),
        ("control API", &control),
        ("SQS SendMessage", &sqs),
    ];
    for &depth in &depths {
        for (name, path) in paths {
            for clients in CLIENTS {
                rows.push(timed_row(
                    &label, name, path, &sqs, depth, clients, messages,
                )?);
            }
        }
    }
    drop(emulation);

    if let Ok(moto_url) = std::env::var("BENCH_STATE_MOTO_URL") {
        let name = format!("bench-state-{}", std::process::id());
        let moto = Sqs::create(moto_url.trim_end_matches('/'), &name)?;
        let moto_messages = env_usize("BENCH_STATE_MOTO_MESSAGES", 500)?.max(1);
        for depth in counts("BENCH_STATE_MOTO_DEPTHS", "0,2000")? {
            for clients in CLIENTS {
                rows.push(timed_row(
                    "moto",
                    "SQS SendMessage",
                    &moto,
                    &moto,
                    depth,
                    clients,
                    moto_messages,
                )?);
            }
        }
    }
    print_table(&rows);
    Ok(())
}

/// A comma-separated list of counts from `var` (or `default`).
fn counts(var: &str, default: &str) -> Result<Vec<usize>> {
    std::env::var(var)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|d| {
            d.trim()
                .parse()
                .map_err(|_| format!("{var}: '{d}' is not a count"))
        })
        .collect()
}

fn timed_row(
    target: &str,
    path_name: &'static str,
    path: &dyn SendPath,
    queue: &Sqs,
    depth: usize,
    clients: usize,
    messages: usize,
) -> Result<Row> {
    let filled = Instant::now();
    let at = queue.set_depth(depth)?;
    eprintln!(
        "{target}: depth {at} ready in {:.1} s; timing {messages} sends, {path_name}, {clients} client(s)",
        filled.elapsed().as_secs_f64()
    );
    let rate = time_sends(path, clients, messages)?;
    eprintln!("  {rate:.0} msgs/s");
    Ok(Row {
        target: target.to_string(),
        path: path_name,
        clients,
        depth: at,
        messages,
        rate,
    })
}

/// The app's binding to [`QUEUE`]: its endpoint and token, from the app's own environment.
fn binding(emulation: &Emulation) -> Result<Binding> {
    let env: Value = http()
        .get(format!("{}/env", emulation.gateway))
        .send()
        .and_then(|r| r.json())
        .map_err(|e| format!("GET {}/env: {e}", emulation.gateway))?;
    let var = format!("ALIEN_{}_BINDING", QUEUE.to_uppercase());
    let value: Value = env[&var]
        .as_str()
        .and_then(|v| serde_json::from_str(v).ok())
        .ok_or_else(|| format!("the app has no {var} in its environment"))?;
    match (value["endpoint"].as_str(), value["token"].as_str()) {
        (Some(endpoint), Some(token)) => Ok(Binding {
            endpoint: endpoint.to_string(),
            token: token.to_string(),
        }),
        _ => Err(format!("{var} has no endpoint or token: {value}")),
    }
}

/// Markdown: every run, then each path's rate at each depth as a ratio of its depth-0 rate.
fn print_table(rows: &[Row]) {
    println!();
    println!("| target | path | clients | depth at start | messages | msgs/s |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {:.0} |",
            r.target, r.path, r.clients, r.depth, r.messages, r.rate
        );
    }
    println!();
    println!("| target | path | clients | rate at depth / rate at the first depth |");
    println!("|---|---|---|---|");
    let mut seen: Vec<(&str, &str, usize)> = Vec::new();
    for r in rows {
        let key = (r.target.as_str(), r.path, r.clients);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let same: Vec<&Row> = rows
            .iter()
            .filter(|o| (o.target.as_str(), o.path, o.clients) == key)
            .collect();
        let base = same[0].rate;
        let ratios: Vec<String> = same
            .iter()
            .map(|o| format!("{}: {:.2}", o.depth, o.rate / base))
            .collect();
        println!(
            "| {} | {} | {} | {} |",
            r.target,
            r.path,
            r.clients,
            ratios.join(", ")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// memory

fn memory() -> Result<()> {
    let events = env_usize("BENCH_STATE_TRACE_EVENTS", 1_000_000)?.max(3);
    let (_config_dir, config) = prebuilt_config()?;
    let emulation = launch(Path::new(env!("CARGO_BIN_EXE_alien")), &config, "60m")?;
    let pid = emulation.pid();
    std::thread::sleep(common::IDLE);
    let before = rss_kib(pid).ok_or("the emulator exited")?;
    let sqs = Sqs {
        endpoint: emulation.control.clone(),
        queue_url: format!("{}/000000000000/{QUEUE}", emulation.control),
    };
    let started = Instant::now();
    let answered = cycle_messages(&sqs, events)?;
    let wall = started.elapsed();
    let newest = newest_trace_seq(&emulation, answered.saturating_sub(1) as u64)?;
    std::thread::sleep(Duration::from_secs(2));
    let after = rss_kib(pid).ok_or("the emulator exited")?;
    let peak = status_kib(pid, "VmHWM:").ok_or("the emulator exited")?;
    let state_file = emulation.state_dir.join("state.sqlite");
    let file_bytes = std::fs::metadata(&state_file)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e}", state_file.display()))?;
    println!();
    println!(
        "trace events answered: {answered} (newest trace seq {newest}) in {:.1} s",
        wall.as_secs_f64()
    );
    println!("| emulator RSS before | after | peak (VmHWM) | state file |");
    println!("|---|---|---|---|");
    println!(
        "| {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
        mib(before),
        mib(after),
        mib(peak),
        file_bytes as f64 / (1024.0 * 1024.0)
    );
    Ok(())
}

/// Loops send (10) → receive (10) → delete on [`QUEUE`] from [`FILLERS`] threads until the
/// answers account for `events` trace events (one per message sent, delivered and acked).
/// Returns the events the answers account for.
fn cycle_messages(sqs: &Sqs, events: usize) -> Result<usize> {
    let counted = AtomicUsize::new(0);
    let next_id = AtomicUsize::new(0);
    on_threads(FILLERS, || {
        let http = http();
        while counted.load(Ordering::Relaxed) < events {
            let first = next_id.fetch_add(10, Ordering::Relaxed);
            let entries: Vec<Value> = (first..first + 10)
                .map(|i| json!({"Id": format!("m{i}"), "MessageBody": format!("cycle-{i}")}))
                .collect();
            let sent = sqs.call(&http, "SendMessageBatch", json!({"Entries": entries}))?;
            let sent = sent["Successful"].as_array().map_or(0, Vec::len);
            let received = sqs.call(
                &http,
                "ReceiveMessage",
                json!({"MaxNumberOfMessages": 10, "VisibilityTimeout": 300}),
            )?;
            let messages = received["Messages"].as_array().cloned().unwrap_or_default();
            let mut acked = 0;
            if !messages.is_empty() {
                let entries: Vec<Value> = messages
                    .iter()
                    .enumerate()
                    .map(|(n, m)| json!({"Id": format!("d{n}"), "ReceiptHandle": m["ReceiptHandle"]}))
                    .collect();
                let deleted = sqs.call(&http, "DeleteMessageBatch", json!({"Entries": entries}))?;
                acked = deleted["Successful"].as_array().map_or(0, Vec::len);
            }
            counted.fetch_add(sent + messages.len() + acked, Ordering::Relaxed);
        }
        Ok(())
    })?;
    Ok(counted.load(Ordering::Relaxed))
}

/// The newest trace sequence number, checked to be at least `at_least` (the trace numbers
/// its events from 0, and answers only what is on disk: polled for up to 10 s).
fn newest_trace_seq(emulation: &Emulation, at_least: u64) -> Result<u64> {
    let http = http();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after = at_least.saturating_sub(1);
    loop {
        let page: Vec<Value> = http
            .get(format!("{}/trace?after={after}", emulation.control))
            .send()
            .and_then(|r| r.json())
            .map_err(|e| format!("GET /trace: {e}"))?;
        match page.last().and_then(|e| e["seq"].as_u64()) {
            Some(seq) => after = seq,
            None if after >= at_least => return Ok(after),
            None if Instant::now() >= deadline => {
                return Err(format!(
                    "the trace holds no event with seq {at_least}: the answers and the trace disagree"
                ));
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}
