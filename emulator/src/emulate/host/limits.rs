//! Runs each app process inside the platform's per-instance limits (issue 14 item 2):
//! memory `memoryMb` (a cgroup v2 or v1 memory limit with no swap, else `RLIMIT_AS`), the
//! platform's CPU share (a CFS quota in the same cgroups), and its scratch disk (the app's
//! `TMPDIR`, [`super::scratch`]). Values come from the profile
//! ([`crate::profile::InstanceLimitsProfile`]), each with its source.
//!
//! After a death the host asks [`Confinement::death`] whether it was the memory limit (the
//! cgroup's `oom_kill` count, or under `RLIMIT_AS` the Rust runtime's allocation failure),
//! and reports it in the platform's words ([`crate::profile::OutOfMemoryReport`]).

use std::{
    fmt,
    fs::File,
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

use super::{
    cgroup::{self, CgroupSupport, CgroupVersion, InstanceCgroup},
    process::ProcessExit,
    scratch::{self, Scratch},
};
use crate::profile::{InstanceLimitsProfile, MilliCpus, OutOfMemoryReport, ScratchSize};

/// The limits of one worker's instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceLimits {
    /// `memoryMb`.
    pub memory_mb: u32,
    /// The CPU share (`None` = not limited).
    pub millicpus: Option<MilliCpus>,
    pub scratch: ScratchSize,
    /// How the platform reports an out-of-memory kill.
    pub out_of_memory: OutOfMemoryReport,
    /// Hold the process to `millicpus` (`alien emulate --cpu-limits`); otherwise the share is
    /// only reported.
    pub enforce_cpu: bool,
}

impl InstanceLimits {
    /// The limits of a worker with `memory_mb` on a platform; `None` where the platform does
    /// not enforce memory (Local).
    pub fn for_worker(profile: &InstanceLimitsProfile, memory_mb: u32) -> Option<Self> {
        if !profile.memory_enforced.value {
            return None;
        }
        let millicpus = profile.cpu.value.millicpus(memory_mb);
        Some(Self {
            memory_mb,
            millicpus,
            scratch: profile.scratch.value.size(millicpus),
            out_of_memory: profile.out_of_memory.value?,
            enforce_cpu: true,
        })
    }
}

/// How memory is held to the limit on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryMechanism {
    CgroupV2,
    CgroupV1,
    /// `RLIMIT_AS`: an allocation past the limit fails instead of a kill.
    Rlimit,
}

impl MemoryMechanism {
    /// cgroup v2 if it delegates memory here, else v1's memory controller, else an rlimit.
    pub fn choose(support: &CgroupSupport) -> Self {
        if support.v2.is_some() {
            MemoryMechanism::CgroupV2
        } else if support.v1_memory.is_some() {
            MemoryMechanism::CgroupV1
        } else {
            MemoryMechanism::Rlimit
        }
    }
}

/// What is in force for one instance: the log line, and a value for the trace or status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enforcement {
    pub memory_mb: u32,
    pub memory: MemoryMechanism,
    /// The swap limit is zero too (v1 `memsw`, v2 `memory.swap.max`).
    pub no_swap: bool,
    pub millicpus: Option<MilliCpus>,
    pub cpu_enforced: bool,
    /// Why the CPU share is not enforced, when it was left off on purpose.
    pub cpu_not_enforced: Option<&'static str>,
    pub scratch: ScratchSize,
    /// Why the scratch size is not enforced, when it is not.
    pub scratch_not_enforced: Option<&'static str>,
}

impl fmt::Display for Enforcement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let memory = match self.memory {
            MemoryMechanism::CgroupV2 => "cgroup v2 memory.max",
            MemoryMechanism::CgroupV1 => "cgroup v1 memory.limit_in_bytes",
            MemoryMechanism::Rlimit => "RLIMIT_AS",
        };
        let swap = if self.no_swap { ", no swap" } else { "" };
        write!(f, "memory {} MB by {memory}{swap}; ", self.memory_mb)?;
        match (self.millicpus, self.cpu_enforced) {
            (None, _) => f.write_str("cpu not limited by the platform; ")?,
            (Some(m), true) => write!(f, "cpu {}.{:03} vCPU by CFS quota; ", m / 1000, m % 1000)?,
            (Some(m), false) => write!(
                f,
                "cpu {}.{:03} vCPU not enforced ({}); ",
                m / 1000,
                m % 1000,
                self.cpu_not_enforced.unwrap_or("no cgroup cpu controller")
            )?,
        }
        match (self.scratch, self.scratch_not_enforced) {
            (ScratchSize::Unlimited, _) => f.write_str("scratch disk not limited by the platform"),
            (ScratchSize::InMemory, None) => {
                f.write_str("scratch disk in memory (tmpfs, counted against memory)")
            }
            (ScratchSize::DiskMb(mb), None) => write!(f, "scratch disk {mb} MB"),
            (ScratchSize::InMemory, Some(why)) => {
                write!(f, "scratch disk in memory not enforced: {why}")
            }
            (ScratchSize::DiskMb(mb), Some(why)) => {
                write!(f, "scratch disk {mb} MB not enforced: {why}")
            }
        }
    }
}

/// An app process killed past its memory, in the platform's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfMemory {
    /// `Runtime.ExitError`, `OOMKilled`, ...
    pub error_type: String,
    pub message: String,
}

/// The limits applied to one app process; made before the spawn, released after its death.
#[derive(Debug)]
pub struct Confinement {
    limits: InstanceLimits,
    cgroup: Option<InstanceCgroup>,
    scratch: Option<Scratch>,
    enforcement: Enforcement,
}

const NO_DISK_OF_ITS_OWN: &str =
    "a disk apart from memory needs a filesystem of that size; TMPDIR is a plain directory";
const NO_TMPFS: &str = "cannot mount a tmpfs here; TMPDIR is a plain directory";

impl Confinement {
    /// Makes the instance's cgroup (or plans the rlimit) and scratch directory. Blocking.
    pub fn prepare(limits: &InstanceLimits, worker: &str) -> Self {
        let support = support();
        let name = instance_name(worker);
        let cgroup = match MemoryMechanism::choose(support) {
            MemoryMechanism::Rlimit => None,
            _ => InstanceCgroup::create(
                support,
                &name,
                limits.memory_mb,
                limits.millicpus.filter(|_| limits.enforce_cpu),
            )
            .inspect_err(|error| {
                tracing::warn!(%worker, %error, "cannot make a cgroup; falling back to RLIMIT_AS");
            })
            .ok(),
        };
        let (scratch, scratch_not_enforced) = match limits.scratch {
            ScratchSize::Unlimited => (None, None),
            ScratchSize::InMemory => match Scratch::tmpfs(&name, limits.memory_mb) {
                Ok(scratch) => (Some(scratch), None),
                Err(_) => (Scratch::plain(&name).ok(), Some(NO_TMPFS)),
            },
            ScratchSize::DiskMb(_) => (Scratch::plain(&name).ok(), Some(NO_DISK_OF_ITS_OWN)),
        };
        let enforcement = Enforcement {
            memory_mb: limits.memory_mb,
            memory: match cgroup.as_ref().map(|c| c.version) {
                Some(CgroupVersion::V2) => MemoryMechanism::CgroupV2,
                Some(CgroupVersion::V1 { .. }) => MemoryMechanism::CgroupV1,
                None => MemoryMechanism::Rlimit,
            },
            no_swap: match cgroup.as_ref().map(|c| c.version) {
                Some(CgroupVersion::V2) => true,
                Some(CgroupVersion::V1 { memsw }) => memsw,
                None => true,
            },
            millicpus: limits.millicpus,
            cpu_enforced: cgroup.as_ref().is_some_and(InstanceCgroup::cpu_limited),
            cpu_not_enforced: (!limits.enforce_cpu).then_some("off: alien emulate --cpu-limits"),
            scratch: limits.scratch,
            scratch_not_enforced,
        };
        Self {
            limits: limits.clone(),
            cgroup,
            scratch,
            enforcement,
        }
    }

    pub fn enforcement(&self) -> &Enforcement {
        &self.enforcement
    }

    /// The app's `TMPDIR`, when the platform gives it a scratch disk of its own.
    pub fn tmpdir(&self) -> Option<String> {
        self.scratch
            .as_ref()
            .map(|s| s.dir.to_string_lossy().into_owned())
    }

    /// What the child does between fork and exec: join the cgroups, or set `RLIMIT_AS`.
    pub fn child_setup(&self) -> std::io::Result<ChildSetup> {
        Ok(match &self.cgroup {
            Some(cgroup) => ChildSetup::JoinCgroups(cgroup.procs_files()?),
            None => ChildSetup::AddressSpace(u64::from(self.limits.memory_mb) * 1024 * 1024),
        })
    }

    /// Whether the process that ended with `exit` (its last output `recent`) was killed
    /// past its memory. Blocking (reads the cgroup).
    pub fn death(&self, exit: ProcessExit, recent: &[String]) -> Option<OutOfMemory> {
        let (killed, peak) = match &self.cgroup {
            Some(cgroup) => (cgroup.oom_killed(), cgroup.peak_mb()),
            None => (rlimit_allocation_failed(exit, recent), None),
        };
        killed.then(|| OutOfMemory {
            error_type: self.limits.out_of_memory.error_type.to_string(),
            message: self
                .limits
                .out_of_memory
                .render(self.limits.memory_mb, peak),
        })
    }

    /// Removes the cgroups and the scratch directory. Blocking.
    pub fn release(&self) {
        if let Some(cgroup) = &self.cgroup {
            cgroup.remove();
        }
        if let Some(scratch) = &self.scratch {
            scratch.remove();
        }
    }
}

/// The child's part, run in the forked child before exec ([`ChildSetup::run`]).
#[derive(Debug)]
pub enum ChildSetup {
    /// `cgroup.procs` files opened by the parent; writing `0` moves the writer.
    JoinCgroups(Vec<File>),
    /// `RLIMIT_AS` in bytes.
    AddressSpace(u64),
}

impl ChildSetup {
    /// Async-signal-safe (signal-safety(7)): one write(2) per open file, or one
    /// setrlimit(2); no allocation, no lock.
    pub fn run(&self) -> std::io::Result<()> {
        use std::io::Write;
        match self {
            ChildSetup::JoinCgroups(files) => {
                for mut file in files {
                    file.write_all(b"0")?;
                }
            }
            #[cfg(unix)]
            ChildSetup::AddressSpace(bytes) => {
                let limit = rustix::process::Rlimit {
                    current: Some(*bytes),
                    maximum: Some(*bytes),
                };
                rustix::process::setrlimit(rustix::process::Resource::As, limit)?;
            }
            #[cfg(not(unix))]
            ChildSetup::AddressSpace(_) => {}
        }
        Ok(())
    }
}

/// Under `RLIMIT_AS` an allocation fails: a Rust app aborts with "memory allocation of N
/// bytes failed" (std's default alloc error hook), SIGABRT.
fn rlimit_allocation_failed(exit: ProcessExit, recent: &[String]) -> bool {
    const SIGABRT: i32 = 6;
    exit.signal == Some(SIGABRT)
        && recent
            .iter()
            .any(|line| line.contains("memory allocation of") && line.contains("failed"))
}

/// What this machine offers, probed once (sweeping what dead emulators left behind).
fn support() -> &'static CgroupSupport {
    static SUPPORT: OnceLock<CgroupSupport> = OnceLock::new();
    SUPPORT.get_or_init(|| {
        let support = cgroup::probe();
        cgroup::sweep(&support, false);
        scratch::sweep(false);
        let memory = MemoryMechanism::choose(&support);
        tracing::info!(?memory, "instance limits: memory enforced by {memory:?}");
        support
    })
}

/// The memory mechanism this machine gives app processes. Blocking (probes once).
pub fn memory_mechanism() -> MemoryMechanism {
    MemoryMechanism::choose(support())
}

/// Removes this emulator's cgroups and scratch directories; for the emulator's exit, after
/// its apps have ended. Blocking.
pub fn cleanup_at_exit() {
    cgroup::sweep(support(), true);
    scratch::sweep(true);
}

/// A unique directory name for the next instance of `worker`.
fn instance_name(worker: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let safe: String = worker
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{safe}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::platform::Platform;
    use crate::profile::Profile;

    fn profile(platform: Platform) -> InstanceLimitsProfile {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        Profile::new(platform, day).unwrap().worker.limits
    }

    /// upstream-cloud-semantics.md §3.1 (Lambda MemorySize; Local not enforced) and the
    /// Lambda docs (1,769 MB = 1 vCPU, /tmp 512 MB, "Runtime exited with error: signal:
    /// killed").
    #[test]
    fn limits_come_from_the_profile() {
        let aws = InstanceLimits::for_worker(&profile(Platform::Aws), 128).unwrap();
        assert_eq!(aws.millicpus, Some(72));
        assert_eq!(aws.scratch, ScratchSize::DiskMb(512));
        assert_eq!(aws.out_of_memory.error_type, "Runtime.ExitError");
        assert_eq!(
            aws.out_of_memory.render(128, Some(129)),
            "Runtime exited with error: signal: killed"
        );
        let gcp = InstanceLimits::for_worker(&profile(Platform::Gcp), 512).unwrap();
        assert_eq!(
            (gcp.millicpus, gcp.scratch),
            (Some(1000), ScratchSize::InMemory)
        );
        // Container Apps: 1024 MB → 0.5 vCPU → 2 GiB of ephemeral storage.
        let azure = InstanceLimits::for_worker(&profile(Platform::Azure), 1024).unwrap();
        assert_eq!(
            (azure.millicpus, azure.scratch),
            (Some(500), ScratchSize::DiskMb(2048))
        );
        let k8s = InstanceLimits::for_worker(&profile(Platform::Kubernetes), 256).unwrap();
        assert_eq!(
            (k8s.millicpus, k8s.scratch),
            (Some(1000), ScratchSize::Unlimited)
        );
        assert_eq!(
            InstanceLimits::for_worker(&profile(Platform::Local), 128),
            None
        );
    }

    /// The order: cgroup v2 if usable, else v1's memory controller, else RLIMIT_AS.
    #[test]
    fn mechanism_prefers_v2_then_v1_then_rlimit() {
        let v2 = cgroup::V2Parent {
            dir: PathBuf::from("/sys/fs/cgroup"),
            cpu: true,
        };
        let v1 = (PathBuf::from("/sys/fs/cgroup/memory"), true);
        let both = CgroupSupport {
            v2: Some(v2),
            v1_memory: Some(v1.clone()),
            v1_cpu: None,
        };
        assert_eq!(MemoryMechanism::choose(&both), MemoryMechanism::CgroupV2);
        let only_v1 = CgroupSupport {
            v1_memory: Some(v1),
            ..CgroupSupport::default()
        };
        assert_eq!(MemoryMechanism::choose(&only_v1), MemoryMechanism::CgroupV1);
        assert_eq!(
            MemoryMechanism::choose(&CgroupSupport::default()),
            MemoryMechanism::Rlimit
        );
    }

    /// std's alloc error hook prints "memory allocation of N bytes failed" and aborts.
    #[test]
    fn an_rlimit_death_is_an_aborted_allocation() {
        let abort = ProcessExit {
            code: None,
            signal: Some(6),
        };
        let line = vec!["memory allocation of 314572800 bytes failed".to_string()];
        assert!(rlimit_allocation_failed(abort, &line));
        assert!(!rlimit_allocation_failed(abort, &[]));
        let killed = ProcessExit {
            code: None,
            signal: Some(9),
        };
        assert!(!rlimit_allocation_failed(killed, &line));
    }

    #[test]
    fn enforcement_reads_as_one_line() {
        let enforcement = Enforcement {
            memory_mb: 128,
            memory: MemoryMechanism::CgroupV1,
            no_swap: true,
            millicpus: Some(72),
            cpu_enforced: true,
            cpu_not_enforced: None,
            scratch: ScratchSize::DiskMb(512),
            scratch_not_enforced: Some(NO_DISK_OF_ITS_OWN),
        };
        assert_eq!(
            enforcement.to_string(),
            "memory 128 MB by cgroup v1 memory.limit_in_bytes, no swap; cpu 0.072 vCPU by CFS \
             quota; scratch disk 512 MB not enforced: a disk apart from memory needs a \
             filesystem of that size; TMPDIR is a plain directory"
        );
        let cpu_off = Enforcement {
            cpu_enforced: false,
            cpu_not_enforced: Some("off: alien emulate --cpu-limits"),
            ..enforcement
        };
        assert!(
            cpu_off
                .to_string()
                .contains("cpu 0.072 vCPU not enforced (off: alien emulate --cpu-limits)"),
            "{cpu_off}"
        );
    }
}
