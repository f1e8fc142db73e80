//! `alien emulate`'s SQS endpoint as a conformance target: an emulation of a one-queue stack
//! started in this process on 127.0.0.1 (aws profile, its own state directory), reached over
//! HTTP through the AWS adapter exactly as a peer is. Time passes by `POST /clock/advance`.

use std::path::PathBuf;
use std::time::Duration;

use alien_providers::aws::AwsQueue;
use alien_providers::{QueueMessage, Result};
use chrono::NaiveDate;
use serde_json::json;

use super::{AwsTarget, NoProvider, QueueSetup, Resource, Target};
use crate::Platform;
use crate::emulate::control::ControlClient;
use crate::emulate::run::{EmulateOptions, Emulator};
use crate::profile::Profile;
use crate::stack::load_stack;

/// What the endpoint does not serve.
const SQS_ONLY: &str = "alien emulate serves the SQS API; buckets, schedules and workers are reached through its control API and gateway";

pub struct EmulateTarget {
    sqs: AwsTarget,
    control: ControlClient,
    emulator: tokio::sync::Mutex<Option<Emulator>>,
    dir: PathBuf,
}

impl EmulateTarget {
    /// Starts the emulation (a stack with one queue, as the endpoint's `CreateQueue` adds the
    /// cases' queues) with its state under the system's temporary directory.
    pub async fn start(as_of: NaiveDate, run_id: &str) -> std::result::Result<Self, String> {
        let dir = std::env::temp_dir().join(format!("alien-conformance-{run_id}"));
        let stack_file = dir.join("stack.json");
        let doc = json!({"id": "conformance", "resources": {"jobs": {
            "config": {"type": "queue", "id": "jobs"}, "lifecycle": "frozen", "dependencies": []}}});
        let write = {
            let (dir, stack_file) = (dir.clone(), stack_file.clone());
            move || {
                std::fs::create_dir_all(&dir)?;
                std::fs::write(&stack_file, doc.to_string())
            }
        };
        tokio::task::spawn_blocking(write)
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("{}: {e}", stack_file.display()))?;
        let stack = load_stack(&stack_file).map_err(|e| e.to_string())?;
        let profile = Profile::new(Platform::Aws, as_of)
            .ok_or_else(|| format!("no aws profile for {as_of}"))?;
        let mut options = EmulateOptions::new(stack, profile);
        options.state_dir = Some(dir.join("state"));
        let emulator = Emulator::start(options, &mut |_| {})
            .await
            .map_err(|e| format!("alien emulate: {e}"))?;
        let url = emulator.control_url.clone();
        Ok(EmulateTarget {
            sqs: AwsTarget::peer("emulate-sqs", &url).await,
            control: ControlClient::new(url),
            emulator: tokio::sync::Mutex::new(Some(emulator)),
            dir,
        })
    }

    /// Stops the emulation and removes its files.
    pub async fn stop(&self) {
        if let Some(emulator) = self.emulator.lock().await.take() {
            emulator.stop(Duration::from_secs(5)).await;
        }
        let dir = self.dir.clone();
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir)).await;
    }
}

impl Target for EmulateTarget {
    type Queue = AwsQueue;
    type Storage = NoProvider;
    type Schedules = NoProvider;
    type Workers = NoProvider;
    type Kv = NoProvider;
    type Daemons = NoProvider;

    fn name(&self) -> &str {
        "emulate-sqs"
    }

    fn platform(&self) -> Platform {
        Platform::Aws
    }

    fn lacks(&self, resource: Resource) -> String {
        match resource {
            Resource::Push => "SQS is polled, not pushed".into(),
            _ => SQS_ONLY.into(),
        }
    }

    async fn queue(&self, setup: &QueueSetup) -> Result<AwsQueue> {
        self.sqs.queue(setup).await
    }

    async fn dead_letters(&self, queue: &AwsQueue) -> Result<Vec<QueueMessage>> {
        self.sqs.dead_letters(queue).await
    }

    /// Time travel: every lease that ends within `d` ends now.
    async fn sleep(&self, d: Duration) {
        let by = format!("{}ms", d.as_millis());
        if let Err(e) = self
            .control
            .post_json("/clock/advance", &json!({"by": by}))
            .await
        {
            tracing::warn!("emulate-sqs: POST /clock/advance {by}: {e}");
        }
    }
}
