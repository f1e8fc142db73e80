//! Bodies over the inline limit (150,000 bytes) live in files under the payload directory
//! and travel as `storage` bodies with `local` presigned requests: params the server moved
//! out of line, responses a receiver uploaded (upstream-runtime-and-bindings.md §5.1, §5.4,
//! §5.6; published-3.3.49.md §5.1, §10). Layout: `<dir>/<commandId>/{params,response}`.
//! Plain blocking file I/O: bodies are at most a few megabytes on a local disk.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::base64;
use super::wire::{BodyOut, LocalBackend, Operation, PresignedRequest};

/// Presigned storage requests last 3600 s (§5.2).
const STORAGE_REQUEST_LIFETIME: Duration = Duration::from_secs(3600);
/// Response credentials last 7200 s (§5.2).
pub const RESPONSE_CREDENTIAL_LIFETIME: Duration = Duration::from_secs(7200);

/// The payload directory. Command ids given to it must be ones the engine issued.
#[derive(Debug, Clone)]
pub struct Payloads {
    dir: PathBuf,
    inline_max: u64,
}

impl Payloads {
    pub fn new(dir: PathBuf, inline_max: u64) -> Payloads {
        Payloads { dir, inline_max }
    }

    pub fn inline_max(&self) -> u64 {
        self.inline_max
    }

    fn file(&self, command_id: &str, name: &str) -> PathBuf {
        self.dir.join(command_id).join(name)
    }

    pub fn response_path(&self, command_id: &str) -> PathBuf {
        self.file(command_id, "response")
    }

    fn request(
        &self,
        command_id: &str,
        name: &str,
        operation: Operation,
        expiration: DateTime<Utc>,
    ) -> PresignedRequest {
        PresignedRequest {
            backend: LocalBackend {
                file_path: self.file(command_id, name).display().to_string(),
                operation,
            },
            expiration,
            operation,
            path: format!("arc/commands/{command_id}/{name}"),
        }
    }

    /// `bytes` inline when they fit, else in the file `<commandId>/<name>`.
    fn body(
        &self,
        command_id: &str,
        name: &str,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> io::Result<BodyOut> {
        let size = bytes.len() as u64;
        if size <= self.inline_max {
            return Ok(BodyOut::Inline {
                inline_base64: base64::encode(bytes),
            });
        }
        write_if_changed(&self.file(command_id, name), bytes)?;
        Ok(BodyOut::Storage {
            size,
            storage_get_request: self.request(
                command_id,
                name,
                Operation::Get,
                after(now, STORAGE_REQUEST_LIFETIME),
            ),
            storage_put_used: true,
        })
    }

    /// The envelope's `params`: the JSON bytes inline, or a storage body over the limit.
    pub fn params_body(
        &self,
        command_id: &str,
        params: &Value,
        now: DateTime<Utc>,
    ) -> io::Result<BodyOut> {
        let bytes = serde_json::to_vec(params).map_err(io::Error::other)?;
        self.body(command_id, "params", &bytes, now)
    }

    /// A stored success response as status serves it.
    pub fn response_body(
        &self,
        command_id: &str,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> io::Result<BodyOut> {
        self.body(command_id, "response", bytes, now)
    }

    /// The envelope's `storageUploadRequest`: where a receiver puts a response over the
    /// limit (its directory is created here).
    pub fn upload_request(
        &self,
        command_id: &str,
        now: DateTime<Utc>,
    ) -> io::Result<PresignedRequest> {
        std::fs::create_dir_all(self.dir.join(command_id))?;
        Ok(self.request(
            command_id,
            "response",
            Operation::Put,
            after(now, RESPONSE_CREDENTIAL_LIFETIME),
        ))
    }

    /// The response a receiver uploaded (`storage{size, storagePutUsed: true}`, §5.4).
    pub fn read_response(&self, command_id: &str) -> io::Result<Vec<u8>> {
        std::fs::read(self.response_path(command_id))
    }
}

/// `t + d`, or the end of time when that does not fit.
pub fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::TimeDelta::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Writes `bytes` to `path` unless it already holds them (a receiver may have left another
/// upload there), through a temporary file so a reader never sees half a body.
fn write_if_changed(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if std::fs::read(path).is_ok_and(|held| held == bytes) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let partial = path.with_extension("partial");
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()
    }

    /// §5.6: params up to 150,000 bytes are inline base64, larger ones go to storage with a
    /// local GET request valid 3600 s (§5.2) whose file holds exactly the params' JSON.
    #[test]
    fn params_move_to_storage_over_the_inline_limit() {
        let dir = tempfile::tempdir().unwrap();
        let payloads = Payloads::new(dir.path().to_path_buf(), 20);
        let small = payloads
            .params_body("cmd-1", &json!({"a": 1}), now())
            .unwrap();
        assert_eq!(
            small,
            BodyOut::Inline {
                inline_base64: base64::encode(br#"{"a":1}"#)
            }
        );
        let big = json!({"text": "x".repeat(30)});
        let BodyOut::Storage {
            size,
            storage_get_request,
            ..
        } = payloads.params_body("cmd-2", &big, now()).unwrap()
        else {
            panic!("storage body expected");
        };
        let bytes = serde_json::to_vec(&big).unwrap();
        assert_eq!(size, bytes.len() as u64);
        assert_eq!(
            std::fs::read(&storage_get_request.backend.file_path).unwrap(),
            bytes
        );
        assert_eq!(storage_get_request.operation, Operation::Get);
        assert_eq!(storage_get_request.path, "arc/commands/cmd-2/params");
        assert_eq!(
            storage_get_request.expiration,
            now() + chrono::TimeDelta::hours(1)
        );
    }

    /// §5.4: the upload request points where `read_response` looks; its directory exists.
    #[test]
    fn uploaded_responses_are_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let payloads = Payloads::new(dir.path().to_path_buf(), 20);
        let put = payloads.upload_request("cmd-3", now()).unwrap();
        assert_eq!(put.operation, Operation::Put);
        assert_eq!(put.expiration, now() + chrono::TimeDelta::hours(2));
        std::fs::write(&put.backend.file_path, b"uploaded").unwrap();
        assert_eq!(payloads.read_response("cmd-3").unwrap(), b"uploaded");
    }

    /// §5.4: status serves the stored response; a different file left at its path (an
    /// upload the receiver then did not submit) is replaced.
    #[test]
    fn a_stale_upload_is_replaced_by_the_stored_response() {
        let dir = tempfile::tempdir().unwrap();
        let payloads = Payloads::new(dir.path().to_path_buf(), 4);
        let put = payloads.upload_request("cmd-4", now()).unwrap();
        std::fs::write(&put.backend.file_path, b"stale upload").unwrap();
        let BodyOut::Storage {
            storage_get_request,
            ..
        } = payloads.response_body("cmd-4", b"stored", now()).unwrap()
        else {
            panic!("storage body expected");
        };
        assert_eq!(storage_get_request.backend.file_path, put.backend.file_path);
        assert_eq!(std::fs::read(&put.backend.file_path).unwrap(), b"stored");
    }
}
