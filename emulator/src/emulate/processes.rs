//! Processes a previous run left behind.
//!
//! Every worker and daemon runs as a child of the emulator, in its own process group
//! ([`crate::emulate::host::process`]). On Linux a child gets SIGKILL when the emulator dies
//! (`PR_SET_PDEATHSIG`, prctl(2)), but only on Linux and only the direct child, not what the
//! app itself started. So the emulator records each child it spawns (a [`ProcessHook`] tells
//! it of every start and exit) and, at its next start, [`reap`]s the records that are still
//! alive: SIGTERM to the group, a grace period, SIGKILL.
//!
//! A record is a pid plus the process's start time, so that a pid the kernel has since given
//! to an unrelated process is never signalled ([`is_alive`]). The start time comes from
//! `/proc/<pid>/stat` (proc(5)), so elsewhere than Linux no record is ever alive and
//! [`reap`] signals nothing.

use std::{
    sync::Arc,
    thread,
    time::{Duration, Instant},
};

/// How often [`reap`] looks whether a signalled process is gone.
const POLL: Duration = Duration::from_millis(10);
/// How long [`reap`] waits for a SIGKILLed process to be gone.
const KILL_WAIT: Duration = Duration::from_secs(1);

/// One child of the emulator: pid plus start time, so a recycled pid is never signalled.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProcessRecord {
    pub pid: u32,
    /// `starttime` of `/proc/<pid>/stat`: clock ticks after boot ([`start_ticks`]).
    pub start_ticks: u64,
    /// The worker or daemon id the process runs.
    pub resource: String,
}

/// What [`reap`] did to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReapOutcome {
    /// Not running any more, or its pid now belongs to another process: not signalled.
    Gone,
    /// Ended within the grace after SIGTERM to its process group.
    Terminated,
    /// Still running after the grace: SIGKILL was sent to its process group.
    Killed,
}

/// One record and what [`reap`] did to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaped {
    pub record: ProcessRecord,
    pub outcome: ReapOutcome,
}

/// A child process started or ended; see [`ProcessHook`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessNote {
    /// `pid` was spawned (it leads its own process group) to run `resource`.
    Started { pid: u32, resource: String },
    /// `pid` ended and was waited for: it can no longer be signalled.
    Exited { pid: u32 },
}

/// How the emulator learns of every child it spawns, so it can record them. Called from
/// async tasks and under the runners' locks: an implementation only sends on a channel and
/// must never block.
pub type ProcessHook = Arc<dyn Fn(ProcessNote) + Send + Sync>;

/// What `/proc/<pid>/stat` says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    /// Field 3 `state`: `R`, `S`, `D`, `Z` (zombie), ... (proc(5)).
    state: char,
    /// Field 22 `starttime` (proc(5)).
    start_ticks: u64,
}

impl Stat {
    /// A zombie has ended and only waits to be reaped by its parent (init, for an orphan).
    fn ended(&self) -> bool {
        self.state == 'Z'
    }
}

/// The process's start time: field 22 `starttime` of `/proc/<pid>/stat`, in clock ticks
/// after system boot (proc(5)). `None` when the process does not exist or not on Linux.
pub fn start_ticks(pid: u32) -> Option<u64> {
    stat(pid).map(|stat| stat.start_ticks)
}

/// Whether the recorded process still runs: the pid exists, has the recorded start time
/// (so it was not reused) and is not a zombie.
pub fn is_alive(record: &ProcessRecord) -> bool {
    stat(record.pid).is_some_and(|stat| stat.start_ticks == record.start_ticks && !stat.ended())
}

/// Ends the recorded processes that are still alive: SIGTERM to each one's process group
/// (the children lead their groups: pgid == pid), up to `grace` for all of them to end, then
/// SIGKILL to the groups still alive. Blocking (polls every 10 ms): call it off the async
/// runtime. One [`Reaped`] per record, in order.
///
/// Between the identity check and the signal the pid could in principle be reused; the
/// window is a few microseconds, against the kernel cycling through the whole pid space.
pub fn reap(records: &[ProcessRecord], grace: Duration) -> Vec<Reaped> {
    let alive: Vec<&ProcessRecord> = records.iter().filter(|record| is_alive(record)).collect();
    signal_all(&alive, Signal::Term);
    let stubborn = still_alive_after(&alive, grace);
    signal_all(&stubborn, Signal::Kill);
    still_alive_after(&stubborn, KILL_WAIT);
    records
        .iter()
        .map(|record| Reaped {
            record: record.clone(),
            outcome: if stubborn.contains(&record) {
                ReapOutcome::Killed
            } else if alive.contains(&record) {
                ReapOutcome::Terminated
            } else {
                ReapOutcome::Gone
            },
        })
        .collect()
}

fn signal_all(records: &[&ProcessRecord], signal: Signal) {
    for record in records {
        signal_group(record.pid, signal);
    }
}

/// Waits up to `limit` (polling) until none of `records` is alive; those still alive then.
fn still_alive_after<'r>(records: &[&'r ProcessRecord], limit: Duration) -> Vec<&'r ProcessRecord> {
    let deadline = Instant::now() + limit;
    loop {
        let alive: Vec<&ProcessRecord> = records
            .iter()
            .copied()
            .filter(|record| is_alive(record))
            .collect();
        if alive.is_empty() || Instant::now() >= deadline {
            return alive;
        }
        thread::sleep(POLL);
    }
}

#[derive(Debug, Clone, Copy)]
enum Signal {
    Term,
    Kill,
}

/// Signals the process group led by `pid`, or the process alone if that fails (it may have
/// left its group).
#[cfg(unix)]
fn signal_group(pid: u32, signal: Signal) {
    use rustix::process::{Pid, kill_process, kill_process_group};
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return;
    };
    let signal = match signal {
        Signal::Term => rustix::process::Signal::TERM,
        Signal::Kill => rustix::process::Signal::KILL,
    };
    if kill_process_group(pid, signal).is_err() {
        // ESRCH: the process ended meanwhile; nothing else can be done about any error.
        let _ = kill_process(pid, signal);
    }
}

/// No process is ever alive here ([`start_ticks`] is Linux-only), so nothing is signalled.
#[cfg(not(unix))]
fn signal_group(_pid: u32, _signal: Signal) {}

#[cfg(target_os = "linux")]
fn stat(pid: u32) -> Option<Stat> {
    let line = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&line)
}

#[cfg(not(target_os = "linux"))]
fn stat(_pid: u32) -> Option<Stat> {
    None
}

/// Parses a `/proc/<pid>/stat` line (proc(5)): `pid (comm) state ppid ...`. `comm` may hold
/// spaces and parentheses, so the fields after it start at the *last* `)`; field 3 `state`
/// is the first of them and field 22 `starttime` the twentieth.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_stat(line: &str) -> Option<Stat> {
    let (_, after_comm) = line.rsplit_once(')')?;
    let mut fields = after_comm.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let start_ticks = fields.nth(18)?.parse().ok()?;
    Some(Stat { state, start_ticks })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stat line with `comm` and `state` where every later field n holds the value n, so
    /// that an off-by-one shows.
    fn stat_line(comm: &str, state: char) -> String {
        let fields: Vec<String> = (4..=52).map(|n| n.to_string()).collect();
        format!("4242 ({comm}) {state} {}\n", fields.join(" "))
    }

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        let line = stat_line("we ird) (na me", 'S');
        assert_eq!(
            parse_stat(&line),
            Some(Stat {
                state: 'S',
                start_ticks: 22
            })
        );
        let zombie = parse_stat(&stat_line(") (", 'Z')).expect("parses");
        assert!(zombie.ended());
        assert_eq!(zombie.start_ticks, 22);
    }

    #[test]
    fn truncated_or_garbled_stat_lines_are_refused() {
        assert_eq!(parse_stat("4242 (sleep S 1 2 3"), None);
        assert_eq!(parse_stat("4242 (sleep) S 1 2 3"), None);
        let line = stat_line("sleep", 'S').replace(" 22 ", " x ");
        assert_eq!(parse_stat(&line), None);
    }

    #[test]
    fn reap_leaves_records_that_are_not_running_alone() {
        // pid 0 has no /proc entry: nothing to signal, and no wait.
        let record = ProcessRecord {
            pid: 0,
            start_ticks: 1,
            resource: "w".into(),
        };
        let started = Instant::now();
        let reaped = reap(std::slice::from_ref(&record), Duration::from_secs(30));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            reaped,
            [Reaped {
                record,
                outcome: ReapOutcome::Gone
            }]
        );
    }

    #[cfg(target_os = "linux")]
    mod linux {
        use std::os::unix::process::CommandExt;
        use std::process::{Child, Command};

        use super::*;

        /// Spawns `sh -c script` leading its own process group, and records it.
        fn spawn_recorded(script: &str) -> (Child, ProcessRecord) {
            let child = Command::new("/bin/sh")
                .arg("-c")
                .arg(script)
                .process_group(0)
                .spawn()
                .expect("spawn sh");
            let record = ProcessRecord {
                pid: child.id(),
                start_ticks: start_ticks(child.id()).expect("a fresh child has a stat"),
                resource: "w".into(),
            };
            (child, record)
        }

        /// Waits (bounded) until `script` has run past its first line, so its trap is set.
        fn wait_for_file(path: &std::path::Path) {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !path.exists() {
                assert!(
                    Instant::now() < deadline,
                    "{} never appeared",
                    path.display()
                );
                thread::sleep(POLL);
            }
        }

        #[test]
        fn start_ticks_of_this_process_is_known_and_stable() {
            let me = std::process::id();
            let first = start_ticks(me).expect("this process has a stat");
            assert!(first > 0);
            assert_eq!(start_ticks(me), Some(first));
        }

        #[test]
        fn reap_terminates_a_recorded_process() {
            let (mut child, record) = spawn_recorded("exec sleep 1000");
            assert!(is_alive(&record));
            let reaped = reap(std::slice::from_ref(&record), Duration::from_secs(10));
            assert_eq!(reaped[0].outcome, ReapOutcome::Terminated);
            let status = child.wait().expect("wait sleep");
            assert_eq!(
                std::os::unix::process::ExitStatusExt::signal(&status),
                Some(15)
            );
            assert!(!is_alive(&record));
            assert_eq!(start_ticks(record.pid), None);
        }

        #[test]
        fn a_reused_pid_is_not_signalled() {
            let (mut child, mut record) = spawn_recorded("exec sleep 1000");
            record.start_ticks += 1;
            let reaped = reap(std::slice::from_ref(&record), Duration::from_secs(10));
            assert_eq!(reaped[0].outcome, ReapOutcome::Gone);
            let still_running = child.try_wait().expect("try_wait").is_none();
            child.kill().expect("cleanup");
            child.wait().expect("wait sleep");
            assert!(
                still_running,
                "the process with another start time was signalled"
            );
        }

        #[test]
        fn a_process_ignoring_sigterm_is_killed_after_the_grace() {
            let dir = tempfile::tempdir().expect("tempdir");
            let ready = dir.path().join("ready");
            let (mut child, record) = spawn_recorded(&format!(
                "trap '' TERM; touch '{}'; while :; do sleep 0.05; done",
                ready.display()
            ));
            wait_for_file(&ready);
            let grace = Duration::from_millis(200);
            let started = Instant::now();
            let reaped = reap(std::slice::from_ref(&record), grace);
            assert!(started.elapsed() >= grace);
            assert_eq!(reaped[0].outcome, ReapOutcome::Killed);
            let status = child.wait().expect("wait sh");
            assert_eq!(
                std::os::unix::process::ExitStatusExt::signal(&status),
                Some(9)
            );
        }
    }
}
