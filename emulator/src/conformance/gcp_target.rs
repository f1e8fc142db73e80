//! Google's emulators as a conformance target through the GCP adapter
//! (`alien_providers::gcp`): the Pub/Sub emulator for queues and push, fake-gcs-server for
//! buckets. Time passes for real; cases poll with tolerance.

use std::time::{Duration, Instant};

use alien_providers::gcp::{GcpClients, GcpConfig, GcpQueue, GcpStorage, PubSubQueueSpec};
use alien_providers::{Payload, QueueMessage, QueueProvider, Result};

use super::push_receiver::PushReceiver;
use super::{NoProvider, PushSeen, QueueSetup, Receiver, Resource, Target, unsupported};
use crate::Platform;

/// The project the emulators are addressed with: scripts/peers/fake-gcs.sh publishes object
/// events in `alien-local` unless told otherwise (`ALIEN_FAKE_GCS_EVENTS_PROJECT`).
const PROJECT: &str = "alien-local";

pub struct GcpTarget {
    clients: GcpClients,
    has_storage: bool,
    events_topic: Option<String>,
}

impl GcpTarget {
    /// The Pub/Sub emulator at `pubsub` and, when given, fake-gcs-server at `storage`, which
    /// publishes its object events to `events_topic` on that emulator when started with it
    /// (scripts/peers/fake-gcs.sh, `ALIEN_FAKE_GCS_EVENTS_TOPIC`).
    pub async fn emulators(
        pubsub: &str,
        storage: Option<&str>,
        events_topic: Option<&str>,
    ) -> Result<GcpTarget> {
        let config = GcpConfig::for_emulators(PROJECT, Some(pubsub), storage);
        Ok(GcpTarget {
            clients: GcpClients::new(&config).await?,
            has_storage: storage.is_some(),
            events_topic: events_topic.map(str::to_string),
        })
    }

    fn spec(setup: &QueueSetup) -> PubSubQueueSpec {
        PubSubQueueSpec {
            name: setup.name.clone(),
            ack_deadline: setup.visibility_timeout,
            dead_letter_after: setup.max_receive_count,
        }
    }
}

/// What has no emulator here.
const NO_SCHEDULER: &str = "Cloud Scheduler has no emulator; the adapter's requests are checked against recorded responses (providers/tests/gcp_scheduler.rs)";

impl Target for GcpTarget {
    type Queue = GcpQueue;
    type Storage = GcpStorage;
    type Schedules = NoProvider;
    type Workers = NoProvider;
    type Kv = NoProvider;
    type Daemons = NoProvider;

    fn name(&self) -> &str {
        "pubsub-emulator"
    }

    fn platform(&self) -> Platform {
        Platform::Gcp
    }

    fn lacks(&self, resource: Resource) -> String {
        match resource {
            Resource::Notifications => "a Storage notifications rule is checked on S3 peers".into(),
            Resource::Schedules => NO_SCHEDULER.into(),
            Resource::Workers | Resource::DeployedWorker => "Cloud Run has no emulator".into(),
            Resource::Kv => "the GCP adapter has no Firestore KV".into(),
            Resource::Daemons => {
                "GCP has no daemon controller (upstream-cloud-semantics.md §7)".into()
            }
            other => format!("the GCP adapter has no {other:?}"),
        }
    }

    /// Pub/Sub's service API: its own 10 MB limit, not the binding's 64 KiB.
    async fn queue(&self, setup: &QueueSetup) -> Result<GcpQueue> {
        Ok(self
            .clients
            .create_queue(&Self::spec(setup))
            .await?
            .service_api())
    }

    async fn dead_letters(&self, queue: &GcpQueue) -> Result<Vec<QueueMessage>> {
        queue.dead_letters().await
    }

    async fn storage(&self, name: &str) -> Result<GcpStorage> {
        if !self.has_storage {
            return unsupported("fake-gcs-server was not given (ALIEN_FAKE_GCS_URL)");
        }
        self.clients.create_bucket(name).await
    }

    /// GCS reports changes as Pub/Sub messages (payload JSON_API_V1, upstream-cloud-semantics.md
    /// §5.2): a subscription on fake-gcs-server's events topic, made before the bucket.
    async fn changing_storage(&self, name: &str) -> Result<GcpStorage> {
        let Some(topic) = &self.events_topic else {
            return unsupported(
                "fake-gcs-server was started without an events topic (ALIEN_FAKE_GCS_EVENTS_TOPIC)",
            );
        };
        let changes = self
            .clients
            .subscribe_topic(topic, &format!("{name}-changes"))
            .await?;
        Ok(self.storage(name).await?.with_changes(changes))
    }

    /// Upstream's trigger wiring: a push subscription with ack deadline = the worker's
    /// timeout (10 s here) and no retry or dead-letter policy, pushing to a receiver on
    /// 127.0.0.1.
    async fn push(
        &self,
        run_id: &str,
        answer: Receiver,
        window: Duration,
    ) -> Result<Vec<PushSeen>> {
        let receiver = PushReceiver::start(answer).await.map_err(|e| {
            alien_providers::ProviderError::new(alien_providers::ErrorKind::Internal, e.to_string())
        })?;
        let name = format!(
            "conf-{run_id}-push-{}",
            match answer {
                Receiver::Fails => "fails",
                Receiver::AnswersAfter(_) => "slow",
            }
        );
        let queue = self
            .clients
            .create_queue(&PubSubQueueSpec::upstream(&name))
            .await?;
        self.clients
            .create_push_subscription(
                &queue,
                &format!("{name}-receiver"),
                &receiver.url,
                Duration::from_secs(10),
            )
            .await?;
        let published = Instant::now();
        queue.send(Payload::Text("push".into())).await?;
        tokio::time::sleep(window).await;
        Ok(receiver.pushes(published))
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}
