//! A per-instance scratch directory (the app's `TMPDIR`) that holds to the platform's rule:
//! on an in-memory platform (Cloud Run) a tmpfs, whose pages the kernel charges to the
//! memory cgroup of the process that writes them (cgroup-v1/memory.rst §2.3 "shmem
//! (tmpfs) pages"; cgroup-v2.rst "Memory Ownership"), so writing past memory kills the
//! instance as the platform does. A disk apart from memory (Lambda's `/tmp`) would need a
//! filesystem of its own size whose pages do not count against memory; that is not made
//! here, and the size is reported as not enforced. Blocking: call from `spawn_blocking`.

use std::{
    fs, io,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use super::cgroup::sweepable;

/// Prefix of the directory that holds one emulator's scratch directories.
const EMULATOR_DIR_PREFIX: &str = "alien-scratch-";

/// One instance's scratch directory.
#[derive(Debug)]
pub struct Scratch {
    pub dir: PathBuf,
    /// A tmpfs is mounted on `dir`.
    pub mounted: bool,
}

impl Scratch {
    /// A plain directory `<temp>/alien-scratch-<pid>/<name>`.
    pub fn plain(name: &str) -> io::Result<Self> {
        let dir = base().join(name);
        fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            mounted: false,
        })
    }

    /// The same directory with a tmpfs of `size_mb` mounted on it (mount(8) `-t tmpfs -o
    /// size=`). Fails without the right to mount.
    pub fn tmpfs(name: &str, size_mb: u32) -> io::Result<Self> {
        let mut scratch = Self::plain(name)?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size_mb}m,mode=1777"))
            .arg("tmpfs")
            .arg(&scratch.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        if !status.success() {
            let _ = fs::remove_dir(&scratch.dir);
            return Err(io::Error::other(format!("mount -t tmpfs: {status}")));
        }
        scratch.mounted = true;
        Ok(scratch)
    }

    /// Unmounts and deletes the directory and what the app left in it.
    pub fn remove(&self) {
        if self.mounted {
            unmount(&self.dir);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn base() -> PathBuf {
    std::env::temp_dir().join(format!("{EMULATOR_DIR_PREFIX}{}", std::process::id()))
}

fn unmount(dir: &Path) {
    let _ = Command::new("umount")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Removes the scratch directories of emulators that are gone and, with `include_self`, this
/// emulator's own; unmounts what is still mounted in them first.
pub fn sweep(include_self: bool) {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    for entry in entries.flatten() {
        if !sweepable(&entry.file_name(), EMULATOR_DIR_PREFIX, include_self) {
            continue;
        }
        let root = entry.path();
        for line in mounts.lines() {
            if let Some(point) = line.split(' ').nth(1)
                && Path::new(point).starts_with(&root)
            {
                unmount(Path::new(point));
            }
        }
        let _ = fs::remove_dir_all(&root);
    }
}
