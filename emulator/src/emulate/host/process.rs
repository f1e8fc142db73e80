//! One app process: spawn it in its own process group, pipe its output line by line to a
//! sink, publish its exit status, signal its group.
//!
//! Mirrors how upstream hosts apps: the runtime spawns the app as a child with piped
//! stdout/stderr that it re-prints (upstream-runtime-and-bindings.md §2.2 step 5); the Local
//! daemon supervisor gives the child its own process group, stops it with SIGTERM then
//! SIGKILL to the group, and sweeps the group with SIGKILL when the child exits by itself
//! (upstream-runtime-and-bindings.md §4.2).
//!
//! On Linux the app also dies with the emulator (`PR_SET_PDEATHSIG`, [`AppProcess::spawn`]),
//! so a `kill -9` of the emulator leaves no app holding its port; elsewhere the next start
//! reaps what a previous run left behind ([`crate::emulate::processes`]).

use std::{
    collections::{BTreeMap, VecDeque},
    fmt,
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use tokio::{
    process::{Child, Command},
    sync::watch,
};

use super::limits::{Confinement, OutOfMemory};
use super::logs::pump;
pub use super::logs::{LogLine, LogSink, LogStream};
use crate::emulate::processes::{ProcessHook, ProcessNote};

/// How to start the app: the worker's command line, working directory and the caller's env
/// (bindings JSON and the worker's `environment`; the host adds the protocol contract).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    /// Program to run. A relative path with a directory part is resolved against `cwd`, as
    /// the runtime does (upstream-runtime-and-bindings.md §2.2 step 5); a bare name is looked
    /// up on `PATH`.
    pub command: PathBuf,
    pub args: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
}

impl ProcessSpec {
    pub fn new(command: impl Into<PathBuf>) -> Self {
        Self {
            command: command.into(),
            args: Vec::new(),
            cwd: None,
            env: BTreeMap::new(),
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn cwd(mut self, cwd: impl Into<PathBuf>) -> Self {
        self.cwd = Some(cwd.into());
        self
    }

    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }

    /// The program path actually executed.
    pub fn program(&self) -> PathBuf {
        let command = &self.command;
        match &self.cwd {
            Some(cwd) if command.is_relative() && command.components().count() > 1 => {
                cwd.join(command)
            }
            _ => command.clone(),
        }
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessExit {
    pub code: Option<i32>,
    /// The terminating signal on unix.
    pub signal: Option<i32>,
}

impl ProcessExit {
    fn from_status(status: std::process::ExitStatus) -> Self {
        #[cfg(unix)]
        let signal = std::os::unix::process::ExitStatusExt::signal(&status);
        #[cfg(not(unix))]
        let signal = None;
        Self {
            code: status.code(),
            signal,
        }
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl fmt::Display for ProcessExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit code {code}"),
            (None, Some(signal)) => write!(f, "killed by signal {signal}"),
            (None, None) => f.write_str("unknown exit status"),
        }
    }
}

/// A signal for the process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSignal {
    Terminate,
    Kill,
}

/// How many recent output lines are kept for error messages.
pub(super) const RECENT_LINES: usize = 20;
/// How long to wait for the pipes to drain after the process exited.
const PIPE_DRAIN: Duration = Duration::from_secs(1);

/// A running (or finished) app process.
#[derive(Debug)]
pub struct AppProcess {
    pid: u32,
    exit: watch::Receiver<Option<ProcessExit>>,
    recent: Arc<Mutex<VecDeque<String>>>,
    /// Set before the exit is published when the limits killed the process.
    out_of_memory: Arc<OnceLock<OutOfMemory>>,
    /// Non-unix fallback: the waiter kills the child when asked.
    #[cfg(not(unix))]
    kill_tx: watch::Sender<bool>,
}

impl AppProcess {
    /// Spawns `spec` with `env` on top of the inherited environment minus `remove`, and
    /// tells `hook` of the start and, once the process was waited for, of its exit.
    ///
    /// On Linux the child gets SIGKILL when its parent dies (prctl(2), `PR_SET_PDEATHSIG`).
    /// prctl(2): the "parent" is the *thread* that forked the child, so this must run on a
    /// thread that lives as long as the emulator: a tokio worker thread or the thread of
    /// `block_on` (they live as long as the runtime), never `spawn_blocking` or
    /// `block_in_place`, whose threads end when idle. Other unix systems have no such signal
    /// here; the reaper ([`crate::emulate::processes::reap`]) ends leftovers at the next start.
    pub fn spawn(
        worker: &str,
        spec: &ProcessSpec,
        env: &BTreeMap<String, String>,
        remove: &[String],
        sink: LogSink,
        hook: Option<&ProcessHook>,
    ) -> std::io::Result<Self> {
        Self::spawn_confined(worker, spec, env, remove, sink, hook, None)
    }

    /// [`AppProcess::spawn`] inside `confinement`'s limits: the child joins its cgroups (or
    /// sets its rlimit) before exec; after the death the limits are examined
    /// ([`AppProcess::out_of_memory`]) and released, before the exit is published.
    pub fn spawn_confined(
        worker: &str,
        spec: &ProcessSpec,
        env: &BTreeMap<String, String>,
        remove: &[String],
        sink: LogSink,
        hook: Option<&ProcessHook>,
        confinement: Option<Arc<Confinement>>,
    ) -> std::io::Result<Self> {
        let mut command = Command::new(spec.program());
        command
            .args(&spec.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(cwd) = &spec.cwd {
            command.current_dir(cwd);
        }
        for name in remove {
            command.env_remove(name);
        }
        command.envs(env);
        #[cfg(unix)]
        command.process_group(0);
        #[cfg(target_os = "linux")]
        die_with_parent(&mut command);
        #[cfg(unix)]
        if let Some(confinement) = &confinement {
            let setup = confinement.child_setup()?;
            // SAFETY: `ChildSetup::run` is async-signal-safe (its docs): a write(2) per
            // file opened here in the parent, or one setrlimit(2).
            unsafe {
                command.pre_exec(move || setup.run());
            }
        }

        let mut child = command.spawn()?;
        let pid = child.id().unwrap_or(0);
        let hook = hook.cloned();
        notify(
            hook.as_ref(),
            ProcessNote::Started {
                pid,
                resource: worker.to_string(),
            },
        );
        let recent = Arc::new(Mutex::new(VecDeque::with_capacity(RECENT_LINES)));
        let pumps = [
            child
                .stdout
                .take()
                .map(|out| pump(out, worker, LogStream::Stdout, &sink, &recent)),
            child
                .stderr
                .take()
                .map(|err| pump(err, worker, LogStream::Stderr, &sink, &recent)),
        ];
        let (exit_tx, exit) = watch::channel(None);
        #[cfg(not(unix))]
        let (kill_tx, kill_rx) = watch::channel(false);
        #[cfg(unix)]
        let waited = wait_child(child, pid);
        #[cfg(not(unix))]
        let waited = wait_child(child, kill_rx);
        let out_of_memory = Arc::new(OnceLock::new());
        let death = (Arc::clone(&out_of_memory), Arc::clone(&recent));
        tokio::spawn(async move {
            let status = waited.await;
            if status.is_ok() {
                notify(hook.as_ref(), ProcessNote::Exited { pid });
            }
            let status = status.map_or(
                ProcessExit {
                    code: None,
                    signal: None,
                },
                ProcessExit::from_status,
            );
            for pump in pumps.into_iter().flatten() {
                let _ = tokio::time::timeout(PIPE_DRAIN, pump).await;
            }
            if let Some(confinement) = confinement {
                examine_death(confinement, status, death).await;
            }
            exit_tx.send_replace(Some(status));
        });
        Ok(Self {
            pid,
            exit,
            recent,
            out_of_memory,
            #[cfg(not(unix))]
            kill_tx,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The exit status, once the process has ended and its output was drained.
    pub fn exit_status(&self) -> Option<ProcessExit> {
        *self.exit.borrow()
    }

    /// Waits for the process to end.
    pub async fn wait(&self) -> ProcessExit {
        let mut exit = self.exit.clone();
        loop {
            if let Some(status) = *exit.borrow_and_update() {
                return status;
            }
            if exit.changed().await.is_err() {
                // The waiter task is gone (runtime shutting down): report what is known.
                return exit.borrow().unwrap_or(ProcessExit {
                    code: None,
                    signal: None,
                });
            }
        }
    }

    /// Whether the process was killed past its memory, in the platform's words; known once
    /// [`AppProcess::exit_status`] is.
    pub fn out_of_memory(&self) -> Option<&OutOfMemory> {
        self.out_of_memory.get()
    }

    /// The last lines of output (both pipes, in arrival order).
    pub fn recent_lines(&self) -> Vec<String> {
        self.recent
            .lock()
            .map(|lines| lines.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Signals the whole process group (unix); elsewhere kills the child.
    pub fn signal(&self, signal: GroupSignal) {
        if self.exit_status().is_some() {
            return;
        }
        #[cfg(unix)]
        signal_group(self.pid, signal);
        #[cfg(not(unix))]
        {
            let _ = signal;
            self.kill_tx.send_replace(true);
        }
    }
}

/// Asks `confinement` whether the limits killed the process, then releases them (blocking
/// reads and removals, off the runtime).
async fn examine_death(
    confinement: Arc<Confinement>,
    status: ProcessExit,
    (out_of_memory, recent): (Arc<OnceLock<OutOfMemory>>, Arc<Mutex<VecDeque<String>>>),
) {
    let recent: Vec<String> = recent
        .lock()
        .map(|lines| lines.iter().cloned().collect())
        .unwrap_or_default();
    let death = tokio::task::spawn_blocking(move || {
        let death = confinement.death(status, &recent);
        confinement.release();
        death
    })
    .await;
    if let Ok(Some(death)) = death {
        let _ = out_of_memory.set(death);
    }
}

/// Waits for the child, then sweeps its process group with SIGKILL so no grandchild
/// outlives it (upstream-runtime-and-bindings.md §4.2).
#[cfg(unix)]
async fn wait_child(mut child: Child, pid: u32) -> std::io::Result<std::process::ExitStatus> {
    let status = child.wait().await;
    signal_group(pid, GroupSignal::Kill);
    status
}

#[cfg(not(unix))]
async fn wait_child(
    mut child: Child,
    mut kill: watch::Receiver<bool>,
) -> std::io::Result<std::process::ExitStatus> {
    tokio::select! {
        status = child.wait() => status,
        _ = kill.wait_for(|kill| *kill) => {
            let _ = child.start_kill();
            child.wait().await
        }
    }
}

fn notify(hook: Option<&ProcessHook>, note: ProcessNote) {
    if let Some(hook) = hook {
        hook(note);
    }
}

/// Makes the child die with the emulator: `PR_SET_PDEATHSIG` = SIGKILL (prctl(2)). If the
/// emulator died between the fork and the prctl, the signal never comes (prctl(2): it is
/// sent when the parent dies *afterwards*), which shows as a new parent pid (getppid(2)):
/// the child then kills itself, as the signal would have.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use rustix::process::{Signal, getpid, getppid, kill_process, set_parent_process_death_signal};
    let parent = getpid();
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe operations are allowed (signal-safety(7)). It makes raw syscalls
    // through rustix (prctl, getppid, getpid, kill), allocates nothing, takes no lock, and
    // builds its error from a raw errno (`io::Error::from_raw_os_error` does not allocate).
    unsafe {
        command.pre_exec(move || {
            set_parent_process_death_signal(Some(Signal::KILL))?;
            if getppid() != Some(parent) {
                let _ = kill_process(getpid(), Signal::KILL);
                return Err(rustix::io::Errno::SRCH.into());
            }
            Ok(())
        });
    }
}

#[cfg(unix)]
fn signal_group(pid: u32, signal: GroupSignal) {
    use rustix::process::{Pid, Signal, kill_process_group};
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return;
    };
    let signal = match signal {
        GroupSignal::Terminate => Signal::TERM,
        GroupSignal::Kill => Signal::KILL,
    };
    // ESRCH (the group is already gone) is the expected race; nothing else can be done.
    let _ = kill_process_group(pid, signal);
}

/// Display helper for a command line in errors.
pub fn display_command(spec: &ProcessSpec) -> String {
    let mut out = spec.program().display().to_string();
    for arg in &spec.args {
        out.push(' ');
        out.push_str(arg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    #[test]
    fn relative_commands_resolve_against_cwd() {
        let spec = ProcessSpec::new("./bin/app").cwd("/srv/w");
        assert_eq!(spec.program(), PathBuf::from("/srv/w/./bin/app"));
        let spec = ProcessSpec::new("app").cwd("/srv/w");
        assert_eq!(spec.program(), PathBuf::from("app"));
        let spec = ProcessSpec::new("/usr/bin/app").cwd("/srv/w");
        assert_eq!(spec.program(), PathBuf::from("/usr/bin/app"));
    }

    #[test]
    fn exit_display() {
        let code = ProcessExit {
            code: Some(7),
            signal: None,
        };
        assert_eq!(code.to_string(), "exit code 7");
        assert!(!code.success());
        let killed = ProcessExit {
            code: None,
            signal: Some(9),
        };
        assert_eq!(killed.to_string(), "killed by signal 9");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn pipes_lines_to_the_sink_and_reports_exit() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let spec = ProcessSpec::new("/bin/sh")
            .arg("-c")
            .arg("echo out-$MARK; echo err >&2; printf 'no-newline'; exit 3")
            .env("MARK", "x");
        let process = AppProcess::spawn(
            "w",
            &spec,
            &spec.env,
            &["ALIEN_SHOULD_NOT_EXIST".to_string()],
            LogSink::channel(tx),
            None,
        )
        .expect("spawn sh");
        let status = tokio::time::timeout(Duration::from_secs(10), process.wait())
            .await
            .expect("sh exits");
        assert_eq!(status.code, Some(3));
        let mut lines = Vec::new();
        while let Ok(line) = rx.try_recv() {
            lines.push(line);
        }
        let text: Vec<_> = lines.iter().map(LogLine::prefixed).collect();
        assert!(text.contains(&"[w] out-x".to_string()), "{text:?}");
        assert!(text.contains(&"[w] err".to_string()), "{text:?}");
        assert!(text.contains(&"[w] no-newline".to_string()), "{text:?}");
        assert!(
            lines
                .iter()
                .any(|l| l.stream == LogStream::Stderr && l.line == "err")
        );
        assert_eq!(process.recent_lines().len(), 3);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn terminate_signals_the_whole_group() {
        // The shell starts a grandchild; SIGTERM to the group must end both.
        let spec = ProcessSpec::new("/bin/sh")
            .arg("-c")
            .arg("sleep 30 & echo started; wait");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let process = AppProcess::spawn("w", &spec, &spec.env, &[], LogSink::channel(tx), None)
            .expect("spawn sh");
        let first = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("output")
            .expect("a line");
        assert_eq!(first.line, "started");
        process.signal(GroupSignal::Terminate);
        let status = tokio::time::timeout(Duration::from_secs(10), process.wait())
            .await
            .expect("group terminated");
        assert_eq!(status.signal, Some(15), "{status}");
    }

    /// Set in the re-executed test binary that stands in for the emulator.
    #[cfg(target_os = "linux")]
    const STAND_IN_ENV: &str = "ALIEN_PDEATHSIG_CHILD";
    /// How the stand-in reports its app's pid on stdout.
    #[cfg(target_os = "linux")]
    const APP_PID: &str = "app pid: ";

    /// The failure: `kill -9` of the emulator left its app running. This test
    /// re-executes its own binary (running only this test, with [`STAND_IN_ENV`]) as a
    /// stand-in emulator that spawns `sleep 1000` through [`AppProcess::spawn`], then
    /// SIGKILLs the stand-in. SIGKILL runs no destructor (no `kill_on_drop`, no runtime
    /// drop), and the app leads its own process group, so only `PR_SET_PDEATHSIG` can end
    /// it; the test polls the OS (bounded) until it is gone.
    #[cfg(target_os = "linux")]
    #[test]
    fn killing_the_emulator_kills_its_apps() {
        if std::env::var_os(STAND_IN_ENV).is_some() {
            stand_in_emulator();
            return;
        }
        use crate::emulate::processes::{ProcessRecord, is_alive, start_ticks};
        use std::io::BufRead;

        let name = module_path!()
            .split_once("::")
            .map(|(_, path)| format!("{path}::killing_the_emulator_kills_its_apps"))
            .expect("a crate path");
        let mut emulator = std::process::Command::new(std::env::current_exe().expect("exe"))
            .args(["--exact", &name, "--nocapture", "--test-threads=1"])
            .env(STAND_IN_ENV, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the stand-in emulator");
        let stdout = emulator.stdout.take().expect("piped stdout");
        let pid = std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            // libtest prints `test <name> ... ` before it, on the same line.
            .find_map(|line| line.split_once(APP_PID)?.1.trim().parse::<u32>().ok())
            .expect("the stand-in reports its app's pid");
        let app = ProcessRecord {
            pid,
            start_ticks: start_ticks(pid).expect("the app runs"),
            resource: "w".into(),
        };
        assert!(is_alive(&app));

        emulator.kill().expect("SIGKILL the stand-in");
        emulator.wait().expect("reap the stand-in");

        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while is_alive(&app) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let survived = is_alive(&app);
        if survived {
            signal_group(pid, GroupSignal::Kill);
        }
        assert!(!survived, "the app outlived the emulator's SIGKILL");
    }

    /// The stand-in emulator: spawns the app on this thread (which lives until SIGKILL),
    /// reports its pid, and waits to be killed (bounded, should the test not kill it).
    #[cfg(target_os = "linux")]
    fn stand_in_emulator() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let spec = ProcessSpec::new("sleep").arg("1000");
            let app = AppProcess::spawn("w", &spec, &spec.env, &[], LogSink::stderr(), None)
                .expect("spawn sleep");
            println!("{APP_PID}{}", app.pid());
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
    }
}
