//! Code shared by the benches that drive `alien emulate` from the outside (benches/emulate.rs,
//! benches/peers.rs): spawning and stopping it, process-tree RSS from `/proc`, readiness polls,
//! medians and percentiles.

#![allow(dead_code)] // Each bench uses its own subset.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;

pub mod sqs;

/// Errors are messages for the bench's output.
pub type Result<T> = std::result::Result<T, String>;

/// The stack every bench emulates (the real worker app behind it).
pub const STACK: &str = "examples/hello-worker";
/// How long a server idles before its RSS is read.
pub const IDLE: Duration = Duration::from_secs(5);

/// The workspace root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A whole number from the environment variable `name`, `default` when unset.
pub fn env_usize(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("{name}='{v}': expected a whole number")),
        Err(_) => Ok(default),
    }
}

/// A short-timeout client for readiness polls and control calls.
pub fn client() -> Client {
    Client::builder()
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("reqwest client")
}

// ---------------------------------------------------------------------------------------------
// processes

/// Resident set size of `pid` in KiB (None once it is gone).
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

/// A KiB field of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`...); None once `pid` is gone.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Direct children of `pid` (over all its threads).
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// `pid` and all its descendants.
pub fn tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let kids = children(all[i]);
        all.extend(kids);
        i += 1;
    }
    all
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            // The state follows the parenthesised command name.
            s.rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
                .unwrap_or(false)
        })
        .unwrap_or(false)
}

/// `kill SIG -- TARGET` (a pid, or `-PGID` for a process group), errors ignored.
pub fn signal(target: &str, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, "--", target])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Waits up to `grace` for `child` to exit; true when it did.
pub fn wait_for(child: &mut Child, grace: Duration) -> bool {
    let deadline = Instant::now() + grace;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

/// Polls `url` every 5 ms until it answers 2xx; the instant it did.
pub fn poll_until_ok(
    http: &Client,
    url: &str,
    child: &mut Child,
    within: Duration,
) -> Result<Instant> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(response) = http.get(url).send()
            && response.status().is_success()
        {
            return Ok(Instant::now());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "the process exited ({status}) before {url} answered"
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!("{url} did not answer within {within:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------------------------------------
// alien emulate

/// A running `alien emulate`, stopped on drop.
pub struct Emulation {
    child: Child,
    /// The control API's base URL.
    pub control: String,
    /// The worker's gateway URL (its public endpoint).
    pub gateway: String,
    /// The app's own port, bypassing the gateway.
    pub app: String,
    /// From spawning until the status table was printed and `GET /status` answered.
    pub ready: Duration,
    log: PathBuf,
    /// The `--state-dir` it runs on.
    pub state_dir: PathBuf,
    _state: tempfile::TempDir,
}

/// How to start `alien emulate`: which executable, stack and platform, and extra arguments.
pub struct Launch {
    /// The `alien` executable (default: the one this bench was built with).
    pub exe: PathBuf,
    /// The stack directory, relative to the workspace root.
    pub stack: String,
    pub platform: String,
    /// An `alien-emulate.toml` to pass with `--config`.
    pub config: Option<PathBuf>,
    /// The `--stop-after` backstop.
    pub stop_after: String,
    /// More arguments after the ones above.
    pub args: Vec<String>,
}

impl Launch {
    /// [`STACK`] on `platform` with this build's `alien`, stopped after 3 minutes at most.
    pub fn new(platform: &str) -> Launch {
        Launch {
            exe: PathBuf::from(env!("CARGO_BIN_EXE_alien")),
            stack: STACK.to_string(),
            platform: platform.to_string(),
            config: None,
            stop_after: "3m".to_string(),
            args: Vec::new(),
        }
    }
}

impl Emulation {
    /// Spawns `alien emulate` on `platform` and waits until the status table is printed and
    /// `GET /status` answers. `config`: an `alien-emulate.toml` to pass with `--config`.
    pub fn start(platform: &str, config: Option<&Path>) -> Result<Emulation> {
        let mut launch = Launch::new(platform);
        launch.config = config.map(Path::to_path_buf);
        Emulation::launch(&launch)
    }

    /// Spawns `alien emulate` as `launch` says and waits until the status table is printed
    /// and `GET /status` answers.
    pub fn launch(launch: &Launch) -> Result<Emulation> {
        let state = tempfile::tempdir().map_err(|e| e.to_string())?;
        let log = state.path().join("emulate.log");
        let stderr = File::create(&log).map_err(|e| e.to_string())?;
        let state_dir = state.path().join("state");
        let mut command = Command::new(&launch.exe);
        command
            .current_dir(repo())
            .args(["emulate", &launch.stack, "--platform", &launch.platform])
            .args(["--stop-after", &launch.stop_after])
            .arg("--state-dir")
            .arg(&state_dir)
            .args(&launch.args)
            // The app's cargo build (a no-op when it is built) shares the workspace target.
            .env("CARGO_TARGET_DIR", repo().join("target"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        if let Some(config) = &launch.config {
            command.arg("--config").arg(config);
        }
        let spawned = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| format!("spawning alien emulate: {e}"))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel::<String>();
        // Drains stdout for the process's whole life.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                let _ = tx.send(line);
            }
        });
        let mut emulation = Emulation {
            child,
            control: String::new(),
            gateway: String::new(),
            app: String::new(),
            ready: Duration::ZERO,
            log,
            state_dir,
            _state: state,
        };
        let deadline = spawned + Duration::from_secs(240);
        while emulation.gateway.is_empty() || emulation.control.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => {
                    return Err(format!(
                        "no status table within 240 s (or stdout closed); log {}:\n{}",
                        emulation.log.display(),
                        emulation.log_tail()
                    ));
                }
            };
            if let Some(rest) = line.strip_prefix("control API: ") {
                emulation.control = rest.split_whitespace().next().unwrap_or("").to_string();
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() >= 2 && words[0] == "app" && words[1] == "worker" {
                emulation.gateway = words
                    .iter()
                    .find(|w| w.starts_with("http://"))
                    .map(|w| w.to_string())
                    .ok_or_else(|| format!("no gateway URL in the app row: {line}"))?;
                let port = line
                    .split("app port ")
                    .nth(1)
                    .and_then(|p| p.split_whitespace().next())
                    .ok_or_else(|| format!("no app port in the app row: {line}"))?;
                emulation.app = format!("http://127.0.0.1:{port}");
            }
        }
        let status = format!("{}/status", emulation.control);
        let answered = poll_until_ok(
            &client(),
            &status,
            &mut emulation.child,
            Duration::from_secs(10),
        )
        .map_err(|e| format!("{e}; log:\n{}", emulation.log_tail()))?;
        emulation.ready = answered - spawned;
        Ok(emulation)
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGINT (the CLI's graceful stop: SIGTERM to the app, its grace period), then SIGKILL
    /// for whatever is left, the app's process group included.
    pub fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let descendants: Vec<u32> = tree(self.pid()).into_iter().skip(1).collect();
        signal(&self.pid().to_string(), "-INT");
        if !wait_for(&mut self.child, Duration::from_secs(15)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for pid in descendants {
            if alive(pid) {
                signal(&format!("-{pid}"), "-KILL");
                signal(&pid.to_string(), "-KILL");
            }
        }
    }
}

impl Drop for Emulation {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One start of a server: time to ready and RSS after the idle period.
pub struct StartupSample {
    pub ready: Duration,
    /// KiB after the idle period: the main process, and its descendants.
    pub main_kib: u64,
    pub rest_kib: u64,
}

/// Starts `alien emulate` on the aws profile (`config`: an `alien-emulate.toml`), idles for
/// [`IDLE`], reads the RSS of the emulator and of its descendants, stops it.
pub fn alien_startup(config: Option<&Path>) -> Result<StartupSample> {
    let mut emulation = Emulation::start("aws", config)?;
    std::thread::sleep(IDLE);
    let pid = emulation.pid();
    let main_kib = rss_kib(pid).ok_or("the emulator exited while idle")?;
    let rest: Vec<u32> = tree(pid).into_iter().skip(1).collect();
    if rest.is_empty() {
        return Err("no app process under the emulator after the idle period".into());
    }
    let rest_kib = rest.iter().filter_map(|p| rss_kib(*p)).sum();
    let ready = emulation.ready;
    emulation.stop();
    Ok(StartupSample {
        ready,
        main_kib,
        rest_kib,
    })
}

/// The middle value (the upper one of an even count).
pub fn median<T: Copy + PartialOrd>(values: &[T]) -> T {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
    sorted[sorted.len() / 2]
}

/// KiB to MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// An `alien-emulate.toml` (in a temp dir, removed on drop) that maps the app to its
/// already-built executable, so `alien emulate` runs no `cargo build` at start-up.
pub fn prebuilt_config() -> Result<(tempfile::TempDir, PathBuf)> {
    let app_exe = repo().join("target/debug/worker-app");
    if !app_exe.is_file() {
        return Err(format!(
            "{} is missing: build the app first (scripts/bench-emulate.sh does)",
            app_exe.display()
        ));
    }
    let config_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = config_dir.path().join("alien-emulate.toml");
    std::fs::write(
        &config,
        format!(
            "[resources.app]\ncommand = {}\ncwd = {}\n",
            toml_string(&app_exe),
            toml_string(&repo().join("tests/fixtures/worker-app"))
        ),
    )
    .map_err(|e| e.to_string())?;
    Ok((config_dir, config))
}

/// `path` as a TOML basic string.
fn toml_string(path: &Path) -> String {
    serde_json::to_string(&path.display().to_string()).expect("string")
}

/// Latency summary of a set of samples.
pub struct Latency {
    pub p50: Duration,
    pub p99: Duration,
    pub mean: Duration,
}

/// Nearest-rank percentiles.
pub fn latency(mut samples: Vec<Duration>) -> Latency {
    samples.sort_unstable();
    let n = samples.len();
    let rank = |p: f64| samples[((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1];
    Latency {
        p50: rank(50.0),
        p99: rank(99.0),
        mean: samples.iter().sum::<Duration>() / n as u32,
    }
}

/// `d` in microseconds.
pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Runs the parts named in `var` (comma separated, `default` when unset) with `run`; an error
/// is printed as `bench <name>: <part>: <error>` and makes the process exit 1 at the end.
pub fn run_parts(name: &str, var: &str, default: &str, run: impl Fn(&str) -> Option<Result<()>>) {
    let parts = std::env::var(var).unwrap_or_else(|_| default.into());
    let mut failed = false;
    for part in parts.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let outcome = run(part)
            .unwrap_or_else(|| Err(format!("unknown part '{part}': expected one of {default}")));
        if let Err(err) = outcome {
            eprintln!("bench {name}: {part}: {err}");
            failed = true;
        }
    }
    if failed {
        std::process::exit(1);
    }
}

/// Runs `work` on `threads` scoped threads at once; the first error, if any.
pub fn on_threads(threads: usize, work: impl Fn() -> Result<()> + Sync) -> Result<()> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(&work)).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("bench thread"))
            .collect::<Result<Vec<()>>>()
    })?;
    Ok(())
}
