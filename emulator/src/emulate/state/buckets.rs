//! Bucket directories: `<state-dir>/storage/<bucket>/`, the one home of object bytes. The
//! app's `local-storage` binding (object_store `LocalFileSystem`, published-3.3.49.md §5.1)
//! reads and writes the same files, so an object put through the control API is what the
//! app reads, and a file the app writes is what `GET /storage/...` returns. The engine keeps
//! only metadata (size, content type, ETag, file stamp).
//!
//! Every key goes through one resolver ([`BucketDirs::resolve`]): the key is checked, joined
//! segment by segment under its bucket's directory, and the directory it lands in must still
//! be inside the bucket once symlinks are resolved. Writes go to a staging file next to the
//! target (`<name>#<n>`, the name object_store itself stages with, which watchers skip) and are
//! renamed into place after an fsync, so a reader never sees half an object. All of this is
//! blocking file I/O: callers run it off the async runtime.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use alien_providers::validate::validate_storage_key;

use crate::engine::{FileObject, etag_of};

#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error("no storage named '{0}' in the stack")]
    UnknownBucket(String),
    #[error("invalid storage key {key:?}: {reason}")]
    InvalidKey { key: String, reason: String },
    #[error("storage '{bucket}', key {key:?}: {source}")]
    Io {
        bucket: String,
        key: String,
        source: std::io::Error,
    },
}

/// The bucket directories of one emulator.
pub struct BucketDirs {
    root: PathBuf,
    buckets: BTreeSet<String>,
    /// Held while a file is changed and its metadata recorded, so a directory watcher never
    /// sees a control-API write before the engine knows it.
    writing: Mutex<()>,
    staging: AtomicU64,
}

impl BucketDirs {
    /// The directories of `buckets` under `<state_dir>/storage` (created when missing).
    pub fn create(
        state_dir: &Path,
        buckets: impl IntoIterator<Item = String>,
    ) -> std::io::Result<BucketDirs> {
        let dirs = BucketDirs {
            root: state_dir.join("storage"),
            buckets: buckets.into_iter().collect(),
            writing: Mutex::new(()),
            staging: AtomicU64::new(0),
        };
        for bucket in &dirs.buckets {
            fs::create_dir_all(dirs.root.join(bucket))?;
        }
        Ok(dirs)
    }

    pub fn buckets(&self) -> impl Iterator<Item = &str> {
        self.buckets.iter().map(String::as_str)
    }

    /// The directory of `bucket`.
    pub fn dir(&self, bucket: &str) -> Result<PathBuf, BucketError> {
        if !self.buckets.contains(bucket) {
            return Err(BucketError::UnknownBucket(bucket.to_string()));
        }
        Ok(self.root.join(bucket))
    }

    /// Serialises changes to files with the recording of their metadata.
    pub fn writing(&self) -> MutexGuard<'_, ()> {
        self.writing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The file of `key` in `bucket`: the key is refused unless every segment is a plain
    /// name (no empty, `.` or `..` segment, no NUL, no backslash, not absolute).
    pub fn resolve(&self, bucket: &str, key: &str) -> Result<PathBuf, BucketError> {
        let dir = self.dir(bucket)?;
        let invalid = |reason: String| BucketError::InvalidKey {
            key: key.to_string(),
            reason,
        };
        validate_storage_key(key).map_err(|e| invalid(e.message))?;
        if key.contains('\\') {
            return Err(invalid("backslashes are not allowed".into()));
        }
        let mut path = dir;
        for segment in key.split('/') {
            let plain = matches!(
                Path::new(segment)
                    .components()
                    .collect::<Vec<_>>()
                    .as_slice(),
                [Component::Normal(_)]
            );
            if segment.is_empty() || !plain {
                return Err(invalid(format!("segment {segment:?} is not a plain name")));
            }
            path.push(segment);
        }
        Ok(path)
    }

    /// The key of a file under `bucket`'s directory (None outside it or for a directory).
    pub fn key_of(&self, bucket: &str, path: &Path) -> Option<String> {
        let relative = path.strip_prefix(self.root.join(bucket)).ok()?;
        let parts: Vec<String> = relative
            .components()
            .map(|c| match c {
                Component::Normal(s) => s.to_str().map(str::to_string),
                _ => None,
            })
            .collect::<Option<_>>()?;
        (!parts.is_empty()).then(|| parts.join("/"))
    }

    /// Writes `body` as the object `key` (staging file, fsync, rename, fsync of the
    /// directory) and returns what the engine records of it.
    pub fn write(
        &self,
        bucket: &str,
        key: &str,
        body: &[u8],
        content_type: &str,
    ) -> Result<FileObject, BucketError> {
        let path = self.resolve(bucket, key)?;
        let io = |source| BucketError::Io {
            bucket: bucket.to_string(),
            key: key.to_string(),
            source,
        };
        let parent = path.parent().expect("a resolved key has a parent");
        fs::create_dir_all(parent).map_err(io)?;
        self.check_inside(bucket, parent).map_err(io)?;
        let n = self.staging.fetch_add(1, Ordering::Relaxed);
        let name = path.file_name().expect("a resolved key names a file");
        let staging = parent.join(format!("{}#{}", name.to_string_lossy(), n + 1));
        let written = (|| {
            let mut file = File::create(&staging)?;
            file.write_all(body)?;
            file.sync_all()?;
            fs::rename(&staging, &path)?;
            File::open(parent)?.sync_all()?;
            fs::metadata(&path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&staging);
        }
        let meta = written.map_err(io)?;
        Ok(FileObject {
            size: body.len() as u64,
            content_type: content_type.to_string(),
            etag: etag_of(body),
            stamp: stamp(&meta),
        })
    }

    /// The bytes of `key`, None when there is no such file.
    pub fn read(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, BucketError> {
        let path = self.resolve(bucket, key)?;
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(BucketError::Io {
                bucket: bucket.to_string(),
                key: key.to_string(),
                source,
            }),
        }
    }

    /// Removes the file of `key` (a missing one is fine); true when one was removed.
    pub fn remove(&self, bucket: &str, key: &str) -> Result<bool, BucketError> {
        let path = self.resolve(bucket, key)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(BucketError::Io {
                bucket: bucket.to_string(),
                key: key.to_string(),
                source,
            }),
        }
    }

    /// What the engine records of the file at `path` as it is now (None when it is gone or
    /// not a regular file): its size, ETag and stamp, reading it once.
    pub fn describe(path: &Path) -> Option<FileObject> {
        let meta = fs::metadata(path).ok().filter(|m| m.is_file())?;
        let body = fs::read(path).ok()?;
        Some(FileObject {
            size: body.len() as u64,
            content_type: String::new(),
            etag: etag_of(&body),
            stamp: stamp(&meta),
        })
    }

    /// Fails when `dir`, with symlinks resolved, is not inside its bucket's directory.
    fn check_inside(&self, bucket: &str, dir: &Path) -> std::io::Result<()> {
        let bucket_dir = fs::canonicalize(self.root.join(bucket))?;
        if fs::canonicalize(dir)?.starts_with(&bucket_dir) {
            Ok(())
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{} leads outside the bucket directory", dir.display()),
            ))
        }
    }
}

/// A file's stamp: its size, modification time (nanoseconds) and inode, which change with
/// every write or replacement ([`FileObject::stamp`]).
pub fn stamp(meta: &fs::Metadata) -> String {
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0u64;
    format!("{}:{modified}:{inode}", meta.len())
}

/// Every object file under `dir` (recursively) as (key, path), skipping staging files.
pub fn scan(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => {
                    let key = path
                        .strip_prefix(dir)
                        .ok()
                        .and_then(|r| r.to_str())
                        .map(|r| r.replace(std::path::MAIN_SEPARATOR, "/"));
                    if let Some(key) = key.filter(|k| !crate::engine::is_staging_key(k)) {
                        out.push((key, path));
                    }
                }
                _ => {}
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs() -> (tempfile::TempDir, BucketDirs) {
        let dir = tempfile::tempdir().unwrap();
        let dirs = BucketDirs::create(dir.path(), ["files".to_string()]).unwrap();
        (dir, dirs)
    }

    #[test]
    fn a_write_lands_in_the_bucket_directory_with_its_md5() {
        let (root, dirs) = dirs();
        let object = dirs
            .write("files", "a/b c.txt", b"hello", "text/plain")
            .unwrap();
        let path = root.path().join("storage/files/a/b c.txt");
        assert_eq!(fs::read(&path).unwrap(), b"hello");
        // S3: the ETag of a single-part object is the MD5 of its bytes.
        assert_eq!(object.etag, "\"5d41402abc4b2a76b9719d911017c592\"");
        assert_eq!(object.size, 5);
        assert_eq!(object.stamp, stamp(&fs::metadata(&path).unwrap()));
        assert_eq!(dirs.read("files", "a/b c.txt").unwrap().unwrap(), b"hello");
        assert_eq!(
            scan(&root.path().join("storage/files")),
            vec![("a/b c.txt".to_string(), path.clone())]
        );
        assert!(dirs.remove("files", "a/b c.txt").unwrap());
        assert_eq!(dirs.read("files", "a/b c.txt").unwrap(), None);
    }

    #[test]
    fn keys_that_leave_the_bucket_are_refused() {
        let (_root, dirs) = dirs();
        for key in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "./a",
            "a/.",
            "a\\b",
            "",
            "a\0b",
        ] {
            let err = dirs.resolve("files", key).unwrap_err();
            assert!(
                matches!(err, BucketError::InvalidKey { .. }),
                "{key:?}: {err}"
            );
        }
        assert!(matches!(
            dirs.resolve("nope", "a").unwrap_err(),
            BucketError::UnknownBucket(_)
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_out_of_the_bucket_is_not_followed_by_a_write() {
        let (root, dirs) = dirs();
        let outside = root.path().join("outside");
        fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.path().join("storage/files/link")).unwrap();
        let err = dirs.write("files", "link/x.txt", b"x", "").unwrap_err();
        assert!(err.to_string().contains("outside the bucket"), "{err}");
        assert!(!outside.join("x.txt").exists());
    }

    #[test]
    fn staging_files_are_not_objects() {
        let (root, _dirs) = dirs();
        let dir = root.path().join("storage/files");
        fs::write(dir.join("a.txt#3"), b"partial").unwrap();
        fs::write(dir.join("b.txt"), b"b").unwrap();
        let keys: Vec<String> = scan(&dir).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["b.txt"]);
    }
}
