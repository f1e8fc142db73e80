//! Turns what apps write to bucket directories into engine puts and deletes. Nothing in the
//! app tells the host about storage changes (published-3.3.49.md §5.1), so a thread of its
//! own watches the directories (`notify`: inotify and its kin, polling when they cannot be
//! used) and compares each changed file with what the engine recorded of it (its stamp: size,
//! modification time, inode). A file the engine does not know yet is a put (its ETag is the
//! MD5 of its bytes), a recorded object whose file is gone a delete; each is durable before
//! the next file is looked at. On start, and whenever the watcher lost events, every bucket
//! is compared whole, so changes made while the emulator was down are seen too.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::EngineHandle;
use super::buckets::{BucketDirs, scan, stamp};

/// How long events are gathered before they are looked at (a file written in pieces, a
/// staging file renamed into place).
const SETTLE: Duration = Duration::from_millis(20);

/// How often the polling fallback walks the directories.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// How often the thread looks whether it was asked to stop.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// Called after the engine recorded changes (to wake the driver that delivers their events).
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// The running watcher; dropping it stops the thread.
pub struct StorageWatch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Whether the platform's change notifications are used (false: polling).
    pub native: bool,
}

impl Drop for StorageWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Compares every bucket with the engine, then watches for changes until dropped.
pub fn start(
    engine: EngineHandle,
    dirs: Arc<BucketDirs>,
    wake: Wake,
) -> std::io::Result<StorageWatch> {
    let (tx, rx) = mpsc::channel::<notify::Result<notify::Event>>();
    let roots: Vec<PathBuf> = dirs.buckets().filter_map(|b| dirs.dir(b).ok()).collect();
    let (watcher, native) = watcher(tx, &roots)?;
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let reconciler = Reconciler { engine, dirs, wake };
    let thread = std::thread::Builder::new()
        .name("alien-storage-watch".into())
        .spawn(move || {
            let _watcher = watcher;
            reconciler.all();
            reconciler.follow(&rx, &stopping);
        })?;
    Ok(StorageWatch {
        stop,
        thread: Some(thread),
        native,
    })
}

/// The platform's watcher over `roots`, or the polling one when it cannot be set up.
fn watcher(
    tx: mpsc::Sender<notify::Result<notify::Event>>,
    roots: &[PathBuf],
) -> std::io::Result<(Box<dyn Watcher + Send>, bool)> {
    let native = notify::recommended_watcher(tx.clone()).and_then(|mut w| {
        for root in roots {
            w.watch(root, RecursiveMode::Recursive)?;
        }
        Ok(w)
    });
    match native {
        Ok(w) => Ok((Box::new(w), true)),
        Err(err) => {
            tracing::warn!(error = %err, "alien emulate: watching storage by polling");
            let config = notify::Config::default().with_poll_interval(POLL_INTERVAL);
            let mut w = notify::PollWatcher::new(tx, config).map_err(std::io::Error::other)?;
            for root in roots {
                w.watch(root, RecursiveMode::Recursive)
                    .map_err(std::io::Error::other)?;
            }
            Ok((Box::new(w), false))
        }
    }
}

struct Reconciler {
    engine: EngineHandle,
    dirs: Arc<BucketDirs>,
    wake: Wake,
}

impl Reconciler {
    /// Gathers events, then reconciles the paths they name, until asked to stop.
    fn follow(&self, rx: &mpsc::Receiver<notify::Result<notify::Event>>, stop: &AtomicBool) {
        while !stop.load(Ordering::SeqCst) {
            let first = match rx.recv_timeout(STOP_CHECK) {
                Ok(event) => event,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let mut events = vec![first];
            std::thread::sleep(SETTLE);
            events.extend(rx.try_iter());
            let mut paths = BTreeSet::new();
            let mut rescan = false;
            for event in events {
                match event {
                    Ok(event) if !event.need_rescan() => paths.extend(event.paths),
                    // Lost events (an overflowing queue) or a watcher error: look at everything.
                    _ => rescan = true,
                }
            }
            if rescan {
                self.all();
            } else {
                for path in paths {
                    self.path(&path);
                }
            }
        }
    }

    /// Every bucket, whole.
    fn all(&self) {
        for bucket in self.dirs.buckets() {
            if let Ok(dir) = self.dirs.dir(bucket) {
                self.subtree(bucket, &dir, "");
            }
        }
    }

    /// A changed path: a file, a directory (everything under it), or something gone.
    fn path(&self, path: &Path) {
        for bucket in self.dirs.buckets() {
            let Ok(dir) = self.dirs.dir(bucket) else {
                continue;
            };
            if path == dir {
                self.subtree(bucket, &dir, "");
                return;
            }
            let Some(key) = self.dirs.key_of(bucket, path) else {
                continue;
            };
            if path.is_dir() {
                self.subtree(bucket, path, &format!("{key}/"));
            } else {
                self.key(bucket, &key, path);
                // A directory that went away takes the objects under it along.
                if !path.exists() {
                    self.gone_under(bucket, &format!("{key}/"));
                }
            }
            return;
        }
    }

    /// Files under `dir` (keys starting with `prefix`) against the engine's objects there.
    fn subtree(&self, bucket: &str, dir: &Path, prefix: &str) {
        let files = scan(dir);
        let on_disk: BTreeSet<String> = files
            .iter()
            .map(|(key, _)| format!("{prefix}{key}"))
            .collect();
        for (key, path) in &files {
            self.key(bucket, &format!("{prefix}{key}"), path);
        }
        let known = self.engine.lock().object_keys(bucket).unwrap_or_default();
        for key in known
            .into_iter()
            .filter(|k| k.starts_with(prefix) && !on_disk.contains(k))
        {
            self.key(bucket, &key, &dir.join(key.trim_start_matches(prefix)));
        }
    }

    /// Engine objects under `prefix` whose files are gone.
    fn gone_under(&self, bucket: &str, prefix: &str) {
        let known = self.engine.lock().object_keys(bucket).unwrap_or_default();
        for key in known.into_iter().filter(|k| k.starts_with(prefix)) {
            if let Ok(path) = self.dirs.resolve(bucket, &key) {
                self.key(bucket, &key, &path);
            }
        }
    }

    /// One key: the file as it is now against what the engine recorded.
    fn key(&self, bucket: &str, key: &str, path: &Path) {
        if crate::engine::is_staging_key(key) {
            return;
        }
        let _writing = self.dirs.writing();
        let meta = std::fs::metadata(path).ok().filter(|m| m.is_file());
        let recorded = {
            let sim = self.engine.lock();
            let size = sim.head_object(bucket, key).ok().flatten().map(|m| m.size);
            size.map(|size| (size, sim.object_file_stamp(bucket, key).map(str::to_string)))
        };
        let outcome = match (meta, recorded) {
            (None, None) => return,
            (Some(meta), Some((_, Some(known)))) if stamp(&meta) == known => return,
            // Recorded before files had stamps (a migrated v1 state): the same size is taken as
            // the same file, so a restart does not announce every object again.
            (Some(meta), Some((size, None))) if meta.len() == size => {
                let Some(file) = BucketDirs::describe(path) else {
                    return;
                };
                self.engine
                    .apply_blocking(|sim| sim.adopt_file_stamp(bucket, key, file))
            }
            (None, Some(_)) => self
                .engine
                .apply_blocking(|sim| sim.delete_object(bucket, key).map(drop)),
            (Some(_), _) => {
                let Some(file) = BucketDirs::describe(path) else {
                    return;
                };
                self.engine
                    .apply_blocking(|sim| sim.put_file_object(bucket, key, file))
            }
        };
        match outcome {
            Ok(Ok(())) => (self.wake)(),
            Ok(Err(err)) => tracing::warn!(%bucket, %key, error = %err, "storage change refused"),
            Err(err) => tracing::error!(%bucket, %key, error = %err, "storage change not saved"),
        }
    }
}
