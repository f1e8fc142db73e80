//! Storage written by apps through their `local-storage` binding lands in a directory; nothing
//! in the app notifies the host (published-3.3.49.md §5.1), so the emulator watches the
//! directory and turns changes into engine puts and deletes, which raise storage events with
//! the platform's semantics. Polling keeps it dependency-free; object_store's `key#N` staging
//! files are implementation detail of the local binding and never objects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What a scan saw: key → (size, modified).
pub type Snapshot = BTreeMap<String, (u64, SystemTime)>;

/// A change between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Put { key: String, size: u64 },
    Deleted { key: String },
}

/// Lists every regular file under `root` as a storage key (`/`-separated, relative).
pub fn scan(root: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path: PathBuf = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            let key = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if crate::engine::is_staging_key(&key) {
                continue;
            }
            out.insert(
                key,
                (
                    meta.len(),
                    meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                ),
            );
        }
    }
    out
}

/// Changes from `before` to `after`, in key order.
pub fn diff(before: &Snapshot, after: &Snapshot) -> Vec<Change> {
    let mut changes = Vec::new();
    for (key, (size, modified)) in after {
        if before.get(key) != Some(&(*size, *modified)) {
            changes.push(Change::Put {
                key: key.clone(),
                size: *size,
            });
        }
    }
    for key in before.keys() {
        if !after.contains_key(key) {
            changes.push(Change::Deleted { key: key.clone() });
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_puts_and_deletes_and_ignores_staging_files() {
        let dir = tempfile::tempdir().unwrap();
        let before = scan(dir.path());
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/b.txt"), b"hello").unwrap();
        std::fs::write(dir.path().join("a/c.txt#3"), b"partial").unwrap();
        let after = scan(dir.path());
        assert_eq!(
            diff(&before, &after),
            vec![Change::Put {
                key: "a/b.txt".into(),
                size: 5
            }]
        );
        std::fs::remove_file(dir.path().join("a/b.txt")).unwrap();
        let gone = scan(dir.path());
        assert_eq!(
            diff(&after, &gone),
            vec![Change::Deleted {
                key: "a/b.txt".into()
            }]
        );
    }
}
