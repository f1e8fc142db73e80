//! Reliability (issue 10): a seeded `kill -9` loop under mixed load. Each round starts the
//! real `alien emulate` (aws profile, the fixture app on alien-sdk 3.3.49, stack
//! tests/fixtures/stacks/emulate-state) on the same state directory, checks what the rounds
//! before were answered, then loads it from four threads — sends on the control API, the SQS
//! endpoint and the app's own queue binding, SQS receives and deletes, handler failures,
//! object puts and deletes, clock advances — and kills it with SIGKILL while they run.
//!
//! After every restart:
//! - nothing that was answered is lost: every answered send is still held or was acked,
//!   dead-lettered or expired (in the trace, which shows only what is on disk);
//! - nothing acked is delivered again, and a message deleted through SQS is gone;
//! - object bytes equal the last answered put (a put or delete cut by the kill may or may not
//!   have happened: both outcomes are accepted, never a third);
//! - the clock has not gone back from any instant an answer showed;
//! - no process of an earlier round is alive.
//!
//! Rounds: `ALIEN_KILL_LOOP_KILLS` (default 10; `scripts/kill-loop.sh` runs 100), seed
//! `ALIEN_KILL_LOOP_SEED` (default 1): the seed picks each round's load mix, payloads,
//! advances and when the kill comes; thread interleavings are the machine's.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{Emulate, alive, build_fixture, repo, start_stack, trace_all};
use serde_json::{Value, json};

const STACK: &str = "tests/fixtures/stacks/emulate-state";

/// A small deterministic generator (xorshift64*), so a seed replays a round's choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// What object `key` holds by the answers seen: exact bytes, absent, or one of two outcomes
/// when the kill cut a request.
#[derive(Debug, Clone, PartialEq)]
enum Object {
    Bytes(Vec<u8>),
    Absent,
    Either(Box<Object>, Box<Object>),
}

impl Object {
    fn admits(&self, seen: &Option<Vec<u8>>) -> bool {
        match (self, seen) {
            (Object::Bytes(b), Some(s)) => b == s,
            (Object::Absent, None) => true,
            (Object::Either(a, b), _) => a.admits(seen) || b.admits(seen),
            _ => false,
        }
    }
}

/// Everything the rounds were answered, and what the checks found.
#[derive(Default)]
struct Ledger {
    /// Message ids answered by the control API or SQS, on `jobs` (the worker consumes them).
    job_ids: BTreeSet<String>,
    /// Markers of answered sends to `backlog` (nobody consumes it but the SQS client).
    backlog: BTreeSet<String>,
    /// Backlog markers whose SQS DeleteMessage was answered.
    deleted: BTreeSet<String>,
    /// Backlog markers whose DeleteMessage was sent but not answered (the kill cut it): held
    /// or gone are both right.
    maybe_deleted: BTreeSet<String>,
    /// The message id of each backlog marker an SQS receive returned (for failure reports).
    received_ids: BTreeMap<String, String>,
    objects: BTreeMap<String, Object>,
    /// The latest engine instant an answer showed.
    latest_now: Option<DateTime<Utc>>,
    /// What the trace showed so far.
    trace: TraceSeen,
    counts: BTreeMap<&'static str, u64>,
}

impl Ledger {
    fn count(&mut self, what: &'static str) {
        *self.counts.entry(what).or_default() += 1;
    }

    fn saw_now(&mut self, now: &str) {
        if let Ok(now) = now.parse::<DateTime<Utc>>() {
            self.latest_now = Some(self.latest_now.map_or(now, |l| l.max(now)));
        }
    }
}

type Shared = Arc<Mutex<Ledger>>;

fn start(state: &Path, config: &Path) -> Emulate {
    start_stack(STACK, "aws", state, &["--config", config.to_str().unwrap()])
}

/// The app's own `local-queue-http` binding to `queue` (endpoint, token).
fn binding(e: &Emulate, queue: &str) -> (String, String) {
    let env: Value = http()
        .get(format!("{}/env", e.gateway("app")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let value = env[format!("ALIEN_{}_BINDING", queue.to_uppercase())]
        .as_str()
        .unwrap()
        .to_string();
    let binding: Value = serde_json::from_str(&value).unwrap();
    (
        binding["endpoint"].as_str().unwrap().to_string(),
        binding["token"].as_str().unwrap().to_string(),
    )
}

fn sqs(control: &str, operation: &str, body: Value) -> Option<Value> {
    let r = http()
        .post(format!("{control}/"))
        .header("x-amz-target", format!("AmazonSQS.{operation}"))
        .header("content-type", "application/x-amz-json-1.0")
        .json(&body)
        .send()
        .ok()?;
    r.status().is_success().then(|| r.json().ok()).flatten()
}

/// Thread 1: control API sends to `jobs` (some failing once or twice) and `backlog`.
fn control_sends(control: String, seed: u64, ledger: Shared, stop: Arc<AtomicBool>) {
    let mut rng = Rng(seed | 1);
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let to_jobs = rng.below(2) == 0;
        let (queue, body) = if to_jobs {
            let fail = rng.below(4);
            let mut body = json!({"n": n, "seed": seed});
            if fail > 0 && fail < 3 {
                body["fail_times"] = json!(fail);
            }
            ("jobs", json!({ "json": body }))
        } else {
            ("backlog", json!({ "text": format!("c-{seed}-{n}") }))
        };
        let Ok(r) = http()
            .post(format!("{control}/queues/{queue}/messages"))
            .json(&body)
            .send()
        else {
            return;
        };
        if r.status() != 201 {
            continue;
        }
        let id = r.json::<Value>().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let mut l = ledger.lock().unwrap();
        if to_jobs {
            l.job_ids.insert(id);
        } else {
            l.backlog.insert(body["text"].as_str().unwrap().to_string());
        }
        l.count("control API sends");
    }
}

/// Thread 2: SQS SendMessage to `backlog` and `jobs`, ReceiveMessage and DeleteMessage.
fn sqs_traffic(control: String, seed: u64, ledger: Shared, stop: Arc<AtomicBool>) {
    let mut rng = Rng((seed << 1) | 1);
    let url = |q: &str| format!("{control}/000000000000/{q}");
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        match rng.below(3) {
            0 => {
                let marker = format!("s-{seed}-{n}");
                let queue = if rng.below(2) == 0 { "backlog" } else { "jobs" };
                let body = json!({"QueueUrl": url(queue), "MessageBody": marker});
                let Some(reply) = sqs(&control, "SendMessage", body) else {
                    continue;
                };
                let mut l = ledger.lock().unwrap();
                if queue == "backlog" {
                    l.backlog.insert(marker);
                } else {
                    l.job_ids
                        .insert(reply["MessageId"].as_str().unwrap().to_string());
                }
                l.count("SQS sends");
            }
            _ => {
                let body = json!({"QueueUrl": url("backlog"), "MaxNumberOfMessages": 3, "VisibilityTimeout": 5});
                let Some(reply) = sqs(&control, "ReceiveMessage", body) else {
                    continue;
                };
                for m in reply["Messages"].as_array().cloned().unwrap_or_default() {
                    let marker = m["Body"].as_str().unwrap_or_default().to_string();
                    {
                        let mut l = ledger.lock().unwrap();
                        let id = m["MessageId"].as_str().unwrap_or_default().to_string();
                        l.received_ids.insert(marker.clone(), id);
                        l.maybe_deleted.insert(marker.clone());
                    }
                    let body =
                        json!({"QueueUrl": url("backlog"), "ReceiptHandle": m["ReceiptHandle"]});
                    let answered = sqs(&control, "DeleteMessage", body).is_some();
                    // Unanswered, it stays "maybe deleted": the kill may have come after
                    // the delete reached the disk.
                    let mut l = ledger.lock().unwrap();
                    if answered {
                        l.maybe_deleted.remove(&marker);
                        l.deleted.insert(marker);
                        l.count("SQS deletes (acks)");
                    }
                }
            }
        }
    }
}

/// Thread 3: sends through the app's own binding protocol, with the app's token.
fn binding_sends(
    endpoint: String,
    token: String,
    seed: u64,
    ledger: Shared,
    stop: Arc<AtomicBool>,
) {
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let marker = format!("b-{seed}-{n}");
        let Ok(r) = http()
            .post(&endpoint)
            .bearer_auth(&token)
            .json(&json!({"operation": "send", "message": {"type": "text", "data": marker}}))
            .send()
        else {
            return;
        };
        if r.status().is_success() {
            let mut l = ledger.lock().unwrap();
            l.backlog.insert(marker);
            l.count("binding sends");
        }
    }
}

/// Thread 4: object puts and deletes, and clock advances (which redeliver failed messages).
fn puts_and_advances(control: String, seed: u64, ledger: Shared, stop: Arc<AtomicBool>) {
    let mut rng = Rng((seed << 2) | 1);
    while !stop.load(Ordering::SeqCst) {
        let key = format!("k{}", rng.below(6));
        let url = format!("{control}/storage/uploads/objects/{key}");
        match rng.below(5) {
            0 => {
                let by = format!("{}s", 10 + rng.below(230));
                let Ok(r) = http()
                    .post(format!("{control}/clock/advance"))
                    .json(&json!({ "by": by }))
                    .send()
                else {
                    return;
                };
                if let Ok(reply) = r.json::<Value>() {
                    let mut l = ledger.lock().unwrap();
                    l.saw_now(reply["now"].as_str().unwrap_or_default());
                    l.count("advances");
                }
            }
            1 => {
                let before = ledger.lock().unwrap().objects.get(&key).cloned();
                ledger.lock().unwrap().objects.insert(
                    key.clone(),
                    Object::Either(
                        Box::new(before.clone().unwrap_or(Object::Absent)),
                        Box::new(Object::Absent),
                    ),
                );
                let answered = http().delete(&url).send().is_ok_and(|r| r.status() == 204);
                if answered {
                    let mut l = ledger.lock().unwrap();
                    l.objects.insert(key, Object::Absent);
                    l.count("deletes");
                }
            }
            _ => {
                let len = 1 + rng.below(200_000) as usize;
                let fill = rng.next();
                let bytes: Vec<u8> = (0..len)
                    .map(|i| (fill.wrapping_add(i as u64 * 31) % 251) as u8)
                    .collect();
                let before = ledger.lock().unwrap().objects.get(&key).cloned();
                ledger.lock().unwrap().objects.insert(
                    key.clone(),
                    Object::Either(
                        Box::new(before.unwrap_or(Object::Absent)),
                        Box::new(Object::Bytes(bytes.clone())),
                    ),
                );
                let answered = http()
                    .put(&url)
                    .body(bytes.clone())
                    .send()
                    .is_ok_and(|r| r.status().is_success());
                if answered {
                    let mut l = ledger.lock().unwrap();
                    l.objects.insert(key, Object::Bytes(bytes));
                    l.count("puts");
                }
            }
        }
    }
}

/// Every check after a restart; panics naming what broke.
fn check(e: &Emulate, ledger: &mut Ledger, round: u64) {
    let known_pids = ledger.trace.pids.len();
    for pid in &ledger.trace.pids {
        assert!(
            !alive(*pid),
            "round {round}: process {pid} of an earlier run is alive"
        );
    }
    let status: Value = http()
        .get(format!("{}/status", e.control))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let now: DateTime<Utc> = status["now"].as_str().unwrap().parse().unwrap();
    if let Some(latest) = ledger.latest_now {
        assert!(
            now >= latest,
            "round {round}: the clock went back: {now} < {latest}"
        );
    }
    ledger.saw_now(status["now"].as_str().unwrap());

    let peek = |queue: &str| -> Vec<Value> {
        http()
            .get(format!("{}/queues/{queue}/messages", e.control))
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let held_backlog: BTreeSet<String> = peek("backlog")
        .iter()
        .filter_map(|m| m["payload"]["data"].as_str().map(str::to_string))
        .collect();
    for marker in ledger
        .backlog
        .difference(&ledger.deleted)
        .filter(|m| !ledger.maybe_deleted.contains(*m))
    {
        if !held_backlog.contains(marker) {
            let id = ledger.received_ids.get(marker).cloned().unwrap_or_default();
            let about: Vec<Value> = trace_all(e)
                .into_iter()
                .filter(|x| !id.is_empty() && x["subject"] == id.as_str())
                .collect();
            panic!(
                "round {round}: answered send {marker} ({id}) to backlog is lost; its trace: {about:#?}"
            );
        }
    }
    for marker in &ledger.deleted {
        assert!(
            !held_backlog.contains(marker),
            "round {round}: {marker} was deleted (acked) through SQS but is back"
        );
    }
    // A delete the kill cut either happened or not; from now on it is what the file says.
    let cut: Vec<String> = ledger.maybe_deleted.iter().cloned().collect();
    for marker in cut {
        if !held_backlog.contains(&marker) {
            ledger.deleted.insert(marker.clone());
        }
        ledger.maybe_deleted.remove(&marker);
    }

    // The peek comes first: a message the app acks after it shows up in a later trace (which
    // holds only what is on disk, so it may lag the peek by one group commit).
    let held_jobs: BTreeSet<String> = peek("jobs")
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        ledger.trace.read(e, round);
        let Some(id) = ledger
            .job_ids
            .iter()
            .find(|id| !held_jobs.contains(*id) && !ledger.trace.settled.contains(*id))
        else {
            break;
        };
        if Instant::now() > deadline {
            let about: Vec<Value> = trace_all(e)
                .into_iter()
                .filter(|x| x["subject"] == id.as_str())
                .collect();
            panic!(
                "round {round}: answered send {id} to jobs is neither held nor acked; \
                 its trace: {about:#?}"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    for (key, expected) in ledger.objects.clone() {
        let r = http()
            .get(format!("{}/storage/uploads/objects/{key}", e.control))
            .send()
            .unwrap();
        let seen = (r.status() == 200).then(|| r.bytes().unwrap().to_vec());
        assert!(
            expected.admits(&seen),
            "round {round}: object {key} holds {:?} bytes, expected {expected:?}",
            seen.as_ref().map(Vec::len)
        );
        // What is there now is what the next round starts from.
        ledger
            .objects
            .insert(key, seen.map_or(Object::Absent, Object::Bytes));
    }
    wait_for_this_runs_app(e, ledger, known_pids, round);
}

/// What the trace showed, read page by page after the last event seen (`GET /trace?after=`).
#[derive(Default)]
struct TraceSeen {
    after: Option<u64>,
    /// Messages acked, dead-lettered or expired.
    settled: BTreeSet<String>,
    /// The first ack of each message (a later delivery is a redelivery after an ack).
    acked_at: BTreeMap<String, u64>,
    /// Pids of every app process started.
    pids: BTreeSet<u32>,
}

impl TraceSeen {
    fn read(&mut self, e: &Emulate, round: u64) {
        loop {
            let mut url = format!("{}/trace", e.control);
            if let Some(after) = self.after {
                url.push_str(&format!("?after={after}"));
            }
            let page: Vec<Value> = http().get(url).send().unwrap().json().unwrap();
            let Some(last) = page.last() else {
                return;
            };
            self.after = last["seq"].as_u64();
            for event in &page {
                self.see(event, round);
            }
        }
    }

    /// Panics if a message is delivered after its ack.
    fn see(&mut self, event: &Value, round: u64) {
        let subject = event["subject"].as_str().unwrap_or_default().to_string();
        let seq = event["seq"].as_u64().unwrap();
        match event["kind"].as_str().unwrap_or_default() {
            "acked" => {
                self.acked_at.entry(subject.clone()).or_insert(seq);
                self.settled.insert(subject);
            }
            "dead_lettered" | "expired" => {
                self.settled.insert(subject);
            }
            "delivered" => {
                if let Some(acked) = self.acked_at.get(&subject) {
                    panic!(
                        "round {round}: {subject} was acked (event {acked}) and delivered again (event {seq})"
                    );
                }
            }
            "process_started" => {
                if let Some(pid) = event["detail"][0][1].as_str().and_then(|p| p.parse().ok()) {
                    self.pids.insert(pid);
                }
            }
            _ => {}
        }
    }
}

/// Waits until the trace shows this run's app process (so the next round can check it died).
fn wait_for_this_runs_app(e: &Emulate, ledger: &mut Ledger, known: usize, round: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while ledger.trace.pids.len() == known {
        assert!(
            Instant::now() < deadline,
            "round {round}: no process_started event for this run's app ({known} pids known)"
        );
        std::thread::sleep(Duration::from_millis(100));
        ledger.trace.read(e, round);
    }
}

#[test]
fn kill_9_under_load_loses_nothing_answered() {
    let rounds = env_u64("ALIEN_KILL_LOOP_KILLS", 10);
    let seed = env_u64("ALIEN_KILL_LOOP_SEED", 1);
    build_fixture(&["--bin", "worker-app"]);
    // `ALIEN_KILL_LOOP_KEEP=1` keeps the state directory for a look after a failure.
    let dir = tempfile::tempdir().unwrap();
    let (state, _removed_at_the_end) = if std::env::var_os("ALIEN_KILL_LOOP_KEEP").is_some() {
        let kept = dir.keep();
        println!("state directory kept: {}", kept.display());
        (kept, None)
    } else {
        (dir.path().to_path_buf(), Some(dir))
    };
    let state = state.as_path();
    let config = state.join("alien-emulate.toml");
    std::fs::write(
        &config,
        format!(
            "[resources.app]\ncommand = {:?}\n",
            repo().join("target/debug/worker-app").display().to_string()
        ),
    )
    .unwrap();
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let ledger: Shared = Arc::new(Mutex::new(Ledger::default()));
    let started = Instant::now();
    for round in 1..=rounds {
        let mut e = start(state, &config);
        check(&e, &mut ledger.lock().unwrap(), round);
        let (endpoint, token) = binding(&e, "backlog");
        let stop = Arc::new(AtomicBool::new(false));
        let round_seed = rng.next();
        let threads = vec![
            {
                let (c, l, s) = (e.control.clone(), ledger.clone(), stop.clone());
                std::thread::spawn(move || control_sends(c, round_seed, l, s))
            },
            {
                let (c, l, s) = (e.control.clone(), ledger.clone(), stop.clone());
                std::thread::spawn(move || sqs_traffic(c, round_seed, l, s))
            },
            {
                let (l, s) = (ledger.clone(), stop.clone());
                std::thread::spawn(move || binding_sends(endpoint, token, round_seed, l, s))
            },
            {
                let (c, l, s) = (e.control.clone(), ledger.clone(), stop.clone());
                std::thread::spawn(move || puts_and_advances(c, round_seed, l, s))
            },
        ];
        // The kill comes while the threads are busy, at a seeded moment.
        std::thread::sleep(Duration::from_millis(300 + rng.below(1200)));
        e.child.kill().unwrap();
        e.child.wait().unwrap();
        stop.store(true, Ordering::SeqCst);
        for t in threads {
            t.join().unwrap();
        }
    }
    // One more start checks the last round.
    let e = start(state, &config);
    let mut l = ledger.lock().unwrap();
    check(&e, &mut l, rounds + 1);
    println!(
        "kill -9 loop: {rounds} kills, seed {seed}, {:.1} s; answered: {:?}; \
         {} messages tracked on jobs, {} on backlog ({} deleted), {} objects, {} app processes",
        started.elapsed().as_secs_f64(),
        l.counts,
        l.job_ids.len(),
        l.backlog.len(),
        l.deleted.len(),
        l.objects.len(),
        l.trace.pids.len(),
    );
}
