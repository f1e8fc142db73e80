//! Resource-level provider traits shared by the emulator and real cloud adapters.
//!
//! One trait per resource kind, so the same app or test code runs against the emulator
//! (virtual time, in-process, every platform profile) or a real cloud:
//!
//! | Trait | Resource | Bound to |
//! |---|---|---|
//! | [`QueueProvider`] | Queue | one queue |
//! | [`StorageProvider`] | Storage | one bucket |
//! | [`KvProvider`] | KV | one table |
//! | [`WorkerProvider`] | Worker invoke | a deployment (target per request) |
//! | [`ScheduleProvider`] | cron triggers | a deployment |
//! | [`DaemonProvider`] | Daemon | a deployment (daemon per call) |
//!
//! Every method returns `impl Future<Output = Result<_>> + Send` (native async traits, no
//! `async_trait`), and every trait is `Send + Sync`, so generic code such as
//! `async fn f<Q: QueueProvider>(q: &Q)` yields a `Send` future usable on any executor.
//! Failures are [`ProviderError`] with a comparable [`ErrorKind`]; the shared input rules live
//! in [`validate`], the numbers in [`limits`].
//!
//! The traits are used through generics (return-position `impl Future` is not
//! dyn-compatible):
//!
//! ```
//! use alien_providers::{Payload, QueueProvider, ReceiveOptions, Result};
//!
//! /// Handles every visible message once; the same code runs on the emulator or SQS.
//! async fn drain<Q: QueueProvider>(queue: &Q, handle: impl Fn(&Payload) -> bool) -> Result<usize> {
//!     let mut handled = 0;
//!     loop {
//!         let batch = queue.receive(ReceiveOptions::new(10)).await?;
//!         if batch.is_empty() {
//!             return Ok(handled);
//!         }
//!         for message in batch {
//!             if handle(&message.payload) {
//!                 queue.ack(&message.receipt).await?;
//!                 handled += 1;
//!             } else {
//!                 queue.nack(&message.receipt).await?;
//!             }
//!         }
//!     }
//! }
//! ```
//!
//! Sources: upstream-runtime-and-bindings.md §3.3–§3.5 (binding traits), published-3.3.49.md
//! §4 (queue operations, errors) and upstream-stack-and-limits.md §4 and §6 (cron, limits),
//! in `../shared/reference/`.
//!
//! # How an AWS adapter maps each trait
//!
//! Mapping notes for an adapter over the official `aws-sdk-*` crates, implemented by the
//! `aws` module behind the off-by-default cargo feature `aws` (the default build has no SDK
//! dependency); items marked \[platform knowledge\] are AWS behaviour, not upstream code.
//!
//! ## [`QueueProvider`] → SQS
//! - `send` → `SendMessage` with `MessageBody` = [`Payload::to_body`] after
//!   [`validate::validate_message_size`] (upstream checks 64 KiB client-side); returns
//!   `MessageId`.
//! - `send_batch` → `SendMessageBatch` in chunks of ≤ 10 entries and ≤ 256 KiB; `Successful`
//!   → [`SendOutcome::Sent`], `Failed` with `SenderFault` → `Rejected`, otherwise `Unknown`.
//! - `receive` → `ReceiveMessage` with `MaxNumberOfMessages` = `max_messages`,
//!   `VisibilityTimeout` = `lease`, `WaitTimeSeconds` = `wait` (upstream long-polls 20 s) and
//!   the system attributes `ApproximateReceiveCount` (→ `attempt`, as upstream 3.3.49 does) and
//!   `SentTimestamp` (→ `enqueued_at`); the body becomes a payload via [`Payload::from_body`].
//! - `ack` → `DeleteMessage`; `nack` → `ChangeMessageVisibility` 0; `change_visibility` →
//!   `ChangeMessageVisibility` n (published-3.3.49.md §0). `MessageNotInflight` /
//!   `ReceiptHandleIsInvalid` → [`ErrorKind::StaleReceipt`] \[platform knowledge\].
//! - `purge` → `PurgeQueue` (`PurgeQueueInProgress` → [`ErrorKind::Throttled`]
//!   \[platform knowledge\]).
//! - `attributes` → `GetQueueAttributes`: `ApproximateNumberOfMessages`,
//!   `…NotVisible`, `…Delayed`, `VisibilityTimeout`, `MessageRetentionPeriod`,
//!   `MaximumMessageSize`; with a `RedrivePolicy`, the dead-letter queue's
//!   `ApproximateNumberOfMessages` → `dead_letter_count`.
//!
//! ## [`StorageProvider`] → S3
//! - `put` → `PutObject` (`ContentType`, `Metadata`); `get` → `GetObject` (`NoSuchKey` →
//!   `None`); `head` → `HeadObject` (404 → `None`); `list` → `ListObjectsV2` with `Prefix`
//!   and `ContinuationToken` = cursor (`NextContinuationToken` → `next_cursor`); `delete` →
//!   `DeleteObject` (idempotent).
//! - `changes_since` → a bucket notification configuration (`s3:ObjectCreated:*`,
//!   `s3:ObjectRemoved:*`) targeting an SQS queue; each call receives from that queue, turns
//!   records into [`StorageChange`]s, skips `s3:TestEvent` (as upstream does,
//!   published-3.3.49.md §8), and encodes the receipts in the returned cursor; presenting
//!   the cursor deletes those messages. Delivery stays at least once.
//!
//! ## [`ScheduleProvider`] → EventBridge
//! - `register` → `PutRule` with `ScheduleExpression` = `crontab_to_eventbridge(cron)`
//!   (e.g. `0 12 * * *` → `cron(0 12 * * ? *)`; rate shortcuts such as `rate(1 day)`), rule
//!   name `{prefix}-{worker}-cron-{index}`, then `PutTargets` (target id `"1"`, the Lambda)
//!   and Lambda `AddPermission` (`{worker}-eb-{index}`); `schedule_name` = the rule ARN
//!   (upstream-stack-and-limits.md §4.2, §4.3).
//! - `fire_times` → EventBridge has no API for it: the adapter evaluates the expression
//!   itself (UTC; `rate(…)` anchored at rule creation) or returns
//!   [`ErrorKind::Unsupported`].
//! - `remove` → `RemoveTargets` then `DeleteRule`.
//!
//! ## [`WorkerProvider`] → Lambda
//! - `invoke` → `Invoke` with `InvocationType::RequestResponse` and the payload
//!   `{httpMethod, path, headers, body (base64), isBase64Encoded: true}`; the result's
//!   `statusCode` / `headers` / `body` / `isBase64Encoded` form the response; a
//!   `FunctionError` → [`ErrorKind::Internal`] (upstream-runtime-and-bindings.md §3.5);
//!   `TooManyRequestsException` → [`ErrorKind::Throttled`] \[platform knowledge\]; the
//!   request `timeout` is applied client-side → [`ErrorKind::Timeout`].
//!
//! ## [`KvProvider`] → DynamoDB
//! - `get` → `GetItem` (consistent read, expired TTL → `None`); `put` → `PutItem` with a
//!   `ConditionExpression` for `Absent` (`attribute_not_exists`) or `Version` (version
//!   attribute equals), `ConditionalCheckFailedException` → `Ok(false)`; TTL → a TTL
//!   attribute; `delete` → conditional `DeleteItem`; `exists` → `GetItem` with a
//!   projection; `scan_prefix` → `Scan` filtered by `begins_with(key, prefix)` with
//!   `ExclusiveStartKey` as the cursor. Upstream's DynamoDB value limit is 408,576 bytes but
//!   the portable limit is 24,576 (upstream-stack-and-limits.md §6.5).
//!
//! ## [`DaemonProvider`]
//! - No AWS SDK mapping: upstream runs cloud daemons through its Horizon extension
//!   (upstream-stack-and-limits.md §7), so an AWS adapter returns
//!   [`ErrorKind::Unsupported`] until one exists; the emulator supervises them itself.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "azure")]
pub mod azure;
pub mod daemon;
pub mod error;
#[cfg(feature = "gcp")]
pub mod gcp;
pub mod kv;
pub mod limits;
pub mod queue;
pub mod schedule;
#[cfg(any(feature = "aws", feature = "gcp"))]
mod schedule_index;
pub mod storage;
pub mod types;
pub mod validate;
pub mod worker;

pub use daemon::{DaemonExit, DaemonProvider, DaemonStatus};
pub use error::{ErrorKind, ProviderError, Result};
pub use kv::{KvEntry, KvProvider, PutCondition, PutOptions, ScanResult};
pub use queue::{QueueAttributes, QueueMessage, QueueProvider, ReceiveOptions, SendOutcome};
pub use schedule::{ScheduleProvider, ScheduleRegistration, ScheduleTrigger};
pub use storage::{
    ChangePage, ListPage, ObjectMeta, PutObjectOptions, PutObjectResult, StorageChange,
    StorageChangeKind, StorageProvider, StoredObject,
};
pub use types::{ChangeCursor, MessageId, Payload, ReceiptHandle, ScheduleId};
pub use worker::{WorkerInvokeRequest, WorkerInvokeResponse, WorkerProvider};
