//! GCP adapter (feature `gcp`): the provider traits over Google's official crates
//! (google-cloud-pubsub 1.7, google-cloud-storage 1.21, google-cloud-scheduler-v1 1.13), so
//! the same code targets real GCP, Google's Pub/Sub emulator or fake-gcs-server.
//!
//! | Trait | GCP service | Type |
//! |---|---|---|
//! | [`QueueProvider`](crate::QueueProvider) | Pub/Sub topic + pull subscription `{name}-sub` | [`GcpQueue`] |
//! | [`StorageProvider`](crate::StorageProvider) | Cloud Storage bucket | [`GcpStorage`] |
//! | [`ScheduleProvider`](crate::ScheduleProvider) | Cloud Scheduler jobs | [`GcpSchedules`] |
//!
//! Start from a [`GcpConfig`] ([`GcpConfig::for_emulators`] for local peers,
//! [`GcpConfig::from_env`]), build [`GcpClients`], then provision or bind resources through
//! it: [`GcpClients::create_queue`], [`GcpClients::create_push_subscription`] (a worker's
//! queue trigger), [`GcpClients::create_bucket`] / [`GcpClients::bucket`] (with
//! [`GcpClients::create_notification`] and [`GcpStorage::with_changes`] for a change feed),
//! [`GcpClients::schedules`]. Every Google failure becomes a [`crate::ProviderError`] in one
//! place, [`map_gcp_error`]. Deviations from the traits' contracts are listed on each type.

mod config;
mod error;
mod gcs_error;
mod gcs_json;
mod notifications;
mod pubsub;
mod queue;
mod receiver;
mod schedule;
mod storage;

pub use config::{GcpClients, GcpConfig};
pub use error::map_gcp_error;
pub use notifications::NOTIFIED_EVENT_TYPES;
pub use pubsub::{ACK_DEADLINE_RANGE, PubSubQueueSpec};
pub use queue::GcpQueue;
pub use schedule::{GcpSchedules, ServiceTarget};
pub use storage::GcpStorage;
