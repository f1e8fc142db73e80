//! AWS adapter (feature `aws`): the provider traits over the official `aws-sdk-*` crates, so
//! the same code targets real AWS, LocalStack or moto.
//!
//! | Trait | AWS service | Type |
//! |---|---|---|
//! | [`QueueProvider`](crate::QueueProvider) | SQS | [`AwsQueue`] |
//! | [`StorageProvider`](crate::StorageProvider) | S3 (+ bucket notifications: [`AwsClients::put_bucket_notifications`]) | [`AwsStorage`] |
//! | [`ScheduleProvider`](crate::ScheduleProvider) | EventBridge rules | [`AwsSchedules`] |
//! | [`WorkerProvider`](crate::WorkerProvider) | Lambda `Invoke` | [`AwsWorker`] |
//!
//! Start from an [`AwsConfig`] ([`AwsConfig::for_endpoint`] for a local peer,
//! [`AwsConfig::from_env`] for the SDK's default chain), build [`AwsClients`], then provision
//! or bind resources through it. Every AWS failure becomes a [`crate::ProviderError`] in one
//! place, [`map_sdk_error`]. The mapping of each trait method is described in the crate docs
//! ("How an AWS adapter maps each trait"); deviations are noted on each type.

mod clients;
mod error;
mod lambda_payload;
mod notifications;
mod queue;
mod schedule;
mod storage;
mod worker;

pub use clients::{AwsClients, AwsConfig};
pub use error::map_sdk_error;
pub use notifications::{
    BucketNotifications, LambdaTrigger, QueueNotification, S3Body, classify_s3_body,
    classify_s3_json, s3_event_for,
};
pub use queue::{AwsQueue, QueueSpec};
pub use schedule::{AwsSchedules, ToScheduleExpression};
pub use storage::AwsStorage;
pub use worker::AwsWorker;
