//! Linux control groups for app processes: find where this emulator may make cgroups
//! (cgroup v2 with the memory controller, else v1's memory and cpu hierarchies), make one per
//! instance below the emulator's own cgroup, set its memory and CPU limits, and read after
//! its death whether the kernel's OOM killer ended it.
//!
//! Kernel interfaces (Documentation/admin-guide/cgroup-v2.rst: `memory.max`,
//! `memory.swap.max`, `memory.events` `oom_kill`, `memory.peak`, `cpu.max`;
//! Documentation/admin-guide/cgroup-v1/memory.rst: `memory.limit_in_bytes`,
//! `memory.memsw.limit_in_bytes`, `memory.oom_control` `oom_kill`, `memory.max_usage_in_bytes`;
//! cgroup-v1/cgroups.rst: writing 0 to `cgroup.procs` moves the writer). Every function here
//! does blocking file I/O: call it from `spawn_blocking`.

use std::{
    fs::{self, File, OpenOptions},
    io,
    path::{Path, PathBuf},
};

/// cgroup v1 CFS period used for CPU quotas (cgroup-v1 `cpu.cfs_period_us` default).
const CFS_PERIOD_US: u64 = 100_000;
/// Smallest CFS quota the kernel accepts (1 ms).
const MIN_QUOTA_US: u64 = 1_000;
/// Prefix of the directory that holds one emulator's instance cgroups.
const EMULATOR_DIR_PREFIX: &str = "alien-emulator-";

/// Where this emulator can make instance cgroups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupSupport {
    /// The emulator's own v2 cgroup, when it delegates `memory` to children (and `cpu`).
    pub v2: Option<V2Parent>,
    /// The emulator's own cgroup in v1's memory hierarchy, and whether `memsw` exists.
    pub v1_memory: Option<(PathBuf, bool)>,
    /// The emulator's own cgroup in v1's cpu hierarchy.
    pub v1_cpu: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Parent {
    pub dir: PathBuf,
    pub cpu: bool,
}

/// A cgroup hierarchy mounted on this system: its mount point, the root it shows, and its
/// type (`cgroup2`, or v1 with its controllers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub point: PathBuf,
    pub root: String,
    pub v2: bool,
    pub controllers: Vec<String>,
}

/// The cgroup mounts in `/proc/self/mountinfo` text (proc(5): field 4 is the root, field 5
/// the mount point; after ` - `, the fs type, the source and the super options).
pub fn parse_mounts(mountinfo: &str) -> Vec<Mount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fields: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            let fstype = *right.first()?;
            let v2 = match fstype {
                "cgroup2" => true,
                "cgroup" => false,
                _ => return None,
            };
            let controllers = if v2 {
                Vec::new()
            } else {
                right
                    .get(2)?
                    .split(',')
                    .filter(|o| !matches!(*o, "rw" | "ro") && !o.contains('='))
                    .map(str::to_string)
                    .collect()
            };
            Some(Mount {
                point: PathBuf::from(fields.get(4)?),
                root: fields.get(3)?.to_string(),
                v2,
                controllers,
            })
        })
        .collect()
}

/// This process's cgroup path for a v1 `controller`, or for v2 when `controller` is `None`
/// (`/proc/self/cgroup` lines are `id:controllers:path`, v2's id being 0 with no controllers).
pub fn own_path(proc_cgroup: &str, controller: Option<&str>) -> Option<String> {
    proc_cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let wanted = match controller {
            None => controllers.is_empty(),
            Some(name) => controllers.split(',').any(|c| c == name),
        };
        wanted.then(|| path.to_string())
    })
}

/// The directory of the cgroup at `path` in `mount`.
fn dir_in(mount: &Mount, path: &str) -> PathBuf {
    let relative = path
        .strip_prefix(mount.root.as_str())
        .unwrap_or(path)
        .trim_start_matches('/');
    mount.point.join(relative)
}

/// Looks at this system: which hierarchies are mounted and writable for this process.
pub fn probe() -> CgroupSupport {
    let (Ok(mountinfo), Ok(own)) = (
        fs::read_to_string("/proc/self/mountinfo"),
        fs::read_to_string("/proc/self/cgroup"),
    ) else {
        return CgroupSupport::default();
    };
    let mounts = parse_mounts(&mountinfo);
    let v1 = |controller: &str| {
        let mount = mounts
            .iter()
            .find(|m| !m.v2 && m.controllers.iter().any(|c| c == controller))?;
        let dir = dir_in(mount, &own_path(&own, Some(controller))?);
        writable_dir(&dir).then_some(dir)
    };
    let v2 = mounts.iter().find(|m| m.v2).and_then(|mount| {
        let dir = dir_in(mount, &own_path(&own, None)?);
        v2_parent(&dir)
    });
    CgroupSupport {
        v2,
        v1_memory: v1("memory").map(|dir| {
            let memsw = dir.join("memory.memsw.limit_in_bytes").exists();
            (dir, memsw)
        }),
        v1_cpu: v1("cpu"),
    }
}

#[cfg(unix)]
fn writable_dir(dir: &Path) -> bool {
    rustix::process::geteuid().is_root() && dir.join("cgroup.procs").exists()
}

#[cfg(not(unix))]
fn writable_dir(_: &Path) -> bool {
    false
}

/// A v2 cgroup delegates `memory` to children if `+memory` is (or can be put) in its
/// `cgroup.subtree_control`; that fails while the cgroup holds processes, unless it is root.
fn v2_parent(dir: &Path) -> Option<V2Parent> {
    let available = fs::read_to_string(dir.join("cgroup.controllers")).ok()?;
    let has = |name: &str| available.split_whitespace().any(|c| c == name);
    if !has("memory") || !writable_dir(dir) {
        return None;
    }
    let control = dir.join("cgroup.subtree_control");
    let enabled = |name: &str| {
        fs::read_to_string(&control)
            .map(|s| s.split_whitespace().any(|c| c == name))
            .unwrap_or(false)
    };
    if !enabled("memory") && fs::write(&control, "+memory").is_err() {
        return None;
    }
    let cpu = has("cpu") && (enabled("cpu") || fs::write(&control, "+cpu").is_ok());
    Some(V2Parent {
        dir: dir.to_path_buf(),
        cpu,
    })
}

/// One instance's cgroup directories (one per hierarchy used).
#[derive(Debug)]
pub struct InstanceCgroup {
    pub version: CgroupVersion,
    memory: PathBuf,
    cpu: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    V2,
    V1 { memsw: bool },
}

impl InstanceCgroup {
    /// Makes `<parent>/alien-emulator-<pid>/<name>` with `memory_mb` (and no swap) and, if
    /// given and the hierarchy allows, a CPU quota of `millicpus`.
    pub fn create(
        support: &CgroupSupport,
        name: &str,
        memory_mb: u32,
        millicpus: Option<u32>,
    ) -> io::Result<Self> {
        let bytes = u64::from(memory_mb) * 1024 * 1024;
        let quota = millicpus.map(quota_us);
        if let Some(parent) = &support.v2 {
            let group = emulator_dir(&parent.dir)?;
            // The emulator's directory holds no process, so it may delegate freely.
            let controllers = if parent.cpu {
                "+memory +cpu"
            } else {
                "+memory"
            };
            fs::write(group.join("cgroup.subtree_control"), controllers)?;
            let dir = make(&group, name)?;
            fs::write(dir.join("memory.max"), bytes.to_string())?;
            if dir.join("memory.swap.max").exists() {
                fs::write(dir.join("memory.swap.max"), "0")?;
            }
            let cpu = match quota {
                Some(quota) if parent.cpu => {
                    fs::write(dir.join("cpu.max"), format!("{quota} {CFS_PERIOD_US}"))?;
                    Some(dir.clone())
                }
                _ => None,
            };
            return Ok(Self {
                version: CgroupVersion::V2,
                memory: dir,
                cpu,
            });
        }
        let Some((parent, memsw)) = &support.v1_memory else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "no cgroup memory controller",
            ));
        };
        let dir = make(&emulator_dir(parent)?, name)?;
        // memsw must stay at least memory.limit_in_bytes: set the memory limit first.
        fs::write(dir.join("memory.limit_in_bytes"), bytes.to_string())?;
        if *memsw {
            fs::write(dir.join("memory.memsw.limit_in_bytes"), bytes.to_string())?;
        }
        let cpu = match (quota, &support.v1_cpu) {
            (Some(quota), Some(cpu_parent)) => {
                let cpu_dir = make(&emulator_dir(cpu_parent)?, name)?;
                fs::write(cpu_dir.join("cpu.cfs_period_us"), CFS_PERIOD_US.to_string())?;
                fs::write(cpu_dir.join("cpu.cfs_quota_us"), quota.to_string())?;
                Some(cpu_dir)
            }
            _ => None,
        };
        Ok(Self {
            version: CgroupVersion::V1 { memsw: *memsw },
            memory: dir,
            cpu,
        })
    }

    /// Whether a CPU quota is in force.
    pub fn cpu_limited(&self) -> bool {
        self.cpu.is_some()
    }

    /// `cgroup.procs` of each directory, opened for the child to write `0` into before exec.
    pub fn procs_files(&self) -> io::Result<Vec<File>> {
        let mut dirs = vec![&self.memory];
        dirs.extend(self.cpu.iter().filter(|cpu| **cpu != self.memory));
        dirs.iter()
            .map(|dir| {
                OpenOptions::new()
                    .write(true)
                    .open(dir.join("cgroup.procs"))
            })
            .collect()
    }

    /// Whether the kernel's OOM killer killed a process of this cgroup.
    pub fn oom_killed(&self) -> bool {
        let file = match self.version {
            CgroupVersion::V2 => "memory.events",
            CgroupVersion::V1 { .. } => "memory.oom_control",
        };
        fs::read_to_string(self.memory.join(file))
            .map(|text| oom_kills(&text) > 0)
            .unwrap_or(false)
    }

    /// Peak memory use in MB, if the kernel reports it.
    pub fn peak_mb(&self) -> Option<u64> {
        let file = match self.version {
            CgroupVersion::V2 => "memory.peak",
            CgroupVersion::V1 { .. } => "memory.max_usage_in_bytes",
        };
        let bytes: u64 = fs::read_to_string(self.memory.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        Some(bytes.div_ceil(1024 * 1024))
    }

    /// Removes the directories (they must hold no process any more).
    pub fn remove(&self) {
        for dir in std::iter::once(&self.memory).chain(self.cpu.iter()) {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// The `oom_kill` count in `memory.events` (v2) or `memory.oom_control` (v1) text.
pub fn oom_kills(text: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// CFS quota in µs per [`CFS_PERIOD_US`] for `millicpus`.
pub fn quota_us(millicpus: u32) -> u64 {
    (u64::from(millicpus) * CFS_PERIOD_US / 1000).max(MIN_QUOTA_US)
}

fn emulator_dir(parent: &Path) -> io::Result<PathBuf> {
    let dir = parent.join(format!("{EMULATOR_DIR_PREFIX}{}", std::process::id()));
    match fs::create_dir(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(dir),
        Err(e) => Err(e),
    }
}

fn make(parent: &Path, name: &str) -> io::Result<PathBuf> {
    let dir = parent.join(name);
    fs::create_dir(&dir)?;
    Ok(dir)
}

/// Removes the instance cgroups of emulators that are gone (a `kill -9` leaves them), and,
/// with `include_self`, this emulator's own (at its exit, once its apps have ended). A
/// cgroup that still holds a process stays (rmdir(2) fails with EBUSY).
pub fn sweep(support: &CgroupSupport, include_self: bool) {
    let parents = support
        .v2
        .iter()
        .map(|p| &p.dir)
        .chain(support.v1_memory.iter().map(|(dir, _)| dir))
        .chain(support.v1_cpu.iter());
    for parent in parents {
        let Ok(entries) = fs::read_dir(parent) else {
            continue;
        };
        for entry in entries.flatten() {
            if sweepable(&entry.file_name(), EMULATOR_DIR_PREFIX, include_self) {
                remove_tree(&entry.path());
            }
        }
    }
}

/// Whether `name` is `<prefix><pid>` of an emulator that is gone or, with `include_self`,
/// of this one.
pub fn sweepable(name: &std::ffi::OsStr, prefix: &str, include_self: bool) -> bool {
    let Some(pid) = name
        .to_str()
        .and_then(|name| name.strip_prefix(prefix))
        .and_then(|pid| pid.parse::<u32>().ok())
    else {
        return false;
    };
    if pid == std::process::id() {
        include_self
    } else {
        !Path::new(&format!("/proc/{pid}")).exists()
    }
}

fn remove_tree(dir: &Path) {
    if let Ok(children) = fs::read_dir(dir) {
        for child in children.flatten() {
            if child.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = fs::remove_dir(child.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const PROC_CGROUP: &str = "\
9:name=systemd:/
4:memory:/process_api/c13
1:cpu,cpuacct:/
0::/
";

    /// proc(5) mountinfo fields; the layout of this machine (v1 memory and cpu, v2 at
    /// /sys/fs/cgroup/unified).
    #[test]
    fn finds_v1_and_v2_mounts_and_own_paths() {
        let mounts = parse_mounts(MOUNTINFO);
        assert_eq!(mounts.len(), 4);
        assert_eq!(mounts[0].controllers, vec!["cpu"]);
        assert_eq!(mounts[1].point, PathBuf::from("/sys/fs/cgroup/memory"));
        assert_eq!(mounts[2].controllers, Vec::<String>::new());
        assert!(mounts[3].v2);
        assert_eq!(
            own_path(PROC_CGROUP, Some("memory")).as_deref(),
            Some("/process_api/c13")
        );
        assert_eq!(own_path(PROC_CGROUP, Some("cpu")).as_deref(), Some("/"));
        assert_eq!(own_path(PROC_CGROUP, None).as_deref(), Some("/"));
        assert_eq!(
            dir_in(&mounts[1], "/process_api/c13"),
            PathBuf::from("/sys/fs/cgroup/memory/process_api/c13")
        );
    }

    /// cgroup-v2.rst `memory.events` and cgroup-v1/memory.rst `memory.oom_control`.
    #[test]
    fn reads_the_oom_kill_count() {
        assert_eq!(
            oom_kills("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n"),
            1
        );
        assert_eq!(
            oom_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"),
            2
        );
        assert_eq!(oom_kills("oom_kill_disable 0\nunder_oom 0\n"), 0);
    }

    /// Lambda at 128 MB: 72 millicpus = 7.2 ms per 100 ms; never below the kernel's 1 ms.
    #[test]
    fn cpu_quota_per_period() {
        assert_eq!(quota_us(1000), 100_000);
        assert_eq!(quota_us(72), 7_200);
        assert_eq!(quota_us(5), MIN_QUOTA_US);
    }
}
