//! Conformance: one contract suite, written once against the provider traits, run against
//! every target: the engine under each platform profile, `alien emulate`'s SQS endpoint, and
//! real peers through the cloud adapters (moto and LocalStack through the AWS adapter, the
//! Pub/Sub emulator and fake-gcs-server through the GCP adapter, Azurite through the Azure
//! adapter). Each case states what each platform must show, with its source; the report
//! compares every target with its platform's facts, case × target (anchors.md: LocalStack's
//! parity testing and s3s-e2e: one suite, several targets).
//!
//! Time: a case that needs time to pass asks its target to [`Target::sleep`]; the engine
//! advances its virtual clock, `alien emulate` time-travels, a peer sleeps in real time (cases
//! poll with tolerance).

mod case;
mod cases;
mod emulator_target;
mod gaps;
mod no_provider;
pub(crate) mod report;
mod service_queue;

#[cfg(feature = "aws")]
mod aws_target;
#[cfg(feature = "azure")]
mod azure_target;
#[cfg(feature = "aws")]
mod emulate_target;
#[cfg(feature = "gcp")]
mod gcp_target;
#[cfg(feature = "gcp")]
mod push_receiver;

use std::future::Future;
use std::time::Duration;

use alien_providers::{
    DaemonProvider, KvProvider, QueueMessage, QueueProvider, Result, ScheduleProvider,
    StorageProvider, WorkerProvider,
};

pub use case::{Case, Fact, NOT_CHECKED, PLATFORMS};
pub use cases::{CASES, CaseError, Outcome};
pub use emulator_target::EmulatorTarget;
pub use gaps::{KNOWN_GAPS, KnownGap};
pub use no_provider::{NoProvider, unsupported};
pub use report::{CaseRow, Cell, Report, judge};

#[cfg(feature = "aws")]
pub use aws_target::AwsTarget;
#[cfg(feature = "azure")]
pub use azure_target::AzureTarget;
#[cfg(feature = "aws")]
pub use emulate_target::EmulateTarget;
#[cfg(feature = "gcp")]
pub use gcp_target::GcpTarget;

use crate::Platform;

/// A queue as a case asks for it: the attributes a deployment sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSetup {
    /// Unique per run.
    pub name: String,
    /// SQS visibility timeout, Pub/Sub ack deadline, Service Bus lock duration.
    pub visibility_timeout: Duration,
    /// SQS `MaximumMessageSize`.
    pub max_message_bytes: Option<u64>,
    /// Deliveries before the dead-letter queue: SQS `maxReceiveCount`, Pub/Sub
    /// `maxDeliveryAttempts`, Service Bus `MaxDeliveryCount`.
    pub max_receive_count: Option<u32>,
}

/// A notification rule's literal key filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRule {
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

/// How a push endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receiver {
    /// 500 at once.
    Fails,
    /// 200 after holding the request this long.
    AnswersAfter(Duration),
}

/// One push a receiver got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSeen {
    /// Since the message was published.
    pub after: Duration,
    /// The pushed message's `messageId`.
    pub message_id: String,
    /// The push body's `deliveryAttempt`, when it has one.
    pub delivery_attempt: Option<u32>,
}

/// What a target may lack, for [`Target::lacks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Queue,
    Storage,
    Notifications,
    Schedules,
    Workers,
    DeployedWorker,
    Kv,
    Daemons,
    Push,
}

/// The answer of a method for a resource the target lacks.
fn lacking<T>(target: &(impl Target + ?Sized), resource: Resource) -> Result<T> {
    unsupported(target.lacks(resource))
}

/// What a case needs from a target. A target overrides the methods of the resources it has;
/// the others answer [`ErrorKind::Unsupported`](alien_providers::ErrorKind::Unsupported) with
/// [`Target::lacks`], and the cell reads "n/a" with that reason (never a pass).
pub trait Target: Send + Sync {
    type Queue: QueueProvider;
    type Storage: StorageProvider;
    type Schedules: ScheduleProvider;
    type Workers: WorkerProvider;
    type Kv: KvProvider;
    type Daemons: DaemonProvider;

    /// The column name: `emulator-aws`, `emulate-sqs`, `moto`, `pubsub-emulator`…
    fn name(&self) -> &str;

    /// The platform whose facts the target is judged by.
    fn platform(&self) -> Platform;

    /// Why the target does not have `resource`.
    fn lacks(&self, resource: Resource) -> String {
        format!("{} has no {resource:?} adapter", self.name())
    }

    fn queue(&self, _setup: &QueueSetup) -> impl Future<Output = Result<Self::Queue>> + Send {
        let answer = lacking(self, Resource::Queue);
        async move { answer }
    }

    /// Messages in the queue's dead-letter queue, as a receive from it shows them.
    fn dead_letters(
        &self,
        _queue: &Self::Queue,
    ) -> impl Future<Output = Result<Vec<QueueMessage>>> + Send {
        let answer = lacking(self, Resource::Queue);
        async move { answer }
    }

    fn storage(&self, _name: &str) -> impl Future<Output = Result<Self::Storage>> + Send {
        let answer = lacking(self, Resource::Storage);
        async move { answer }
    }

    /// A bucket whose `changes_since` reports its changes.
    fn changing_storage(&self, _name: &str) -> impl Future<Output = Result<Self::Storage>> + Send {
        let answer = lacking(self, Resource::Storage);
        async move { answer }
    }

    /// A bucket `name` with a Storage `notifications` rule (published-3.3.49.md §8): created
    /// objects whose keys match `rule` go to a new queue `queue`.
    fn notifying_storage(
        &self,
        _name: &str,
        _queue: &QueueSetup,
        _rule: &KeyRule,
    ) -> impl Future<Output = Result<(Self::Storage, Self::Queue)>> + Send {
        let answer = lacking(self, Resource::Notifications);
        async move { answer }
    }

    fn schedules(&self) -> impl Future<Output = Result<Self::Schedules>> + Send {
        let answer = lacking(self, Resource::Schedules);
        async move { answer }
    }

    /// Invokes workers by name (a name it does not know is the caller's test).
    fn workers(&self) -> impl Future<Output = Result<Self::Workers>> + Send {
        let answer = lacking(self, Resource::Workers);
        async move { answer }
    }

    /// A deployed worker that answers 200, and its name.
    fn deployed_worker(&self) -> impl Future<Output = Result<(Self::Workers, String)>> + Send {
        let answer = lacking(self, Resource::DeployedWorker);
        async move { answer }
    }

    fn kv(&self, _name: &str) -> impl Future<Output = Result<Self::Kv>> + Send {
        let answer = lacking(self, Resource::Kv);
        async move { answer }
    }

    /// A running daemon, and its name.
    fn daemons(&self) -> impl Future<Output = Result<(Self::Daemons, String)>> + Send {
        let answer = lacking(self, Resource::Daemons);
        async move { answer }
    }

    /// Publishes one message to a push subscription (upstream's: ack deadline = the worker's
    /// timeout, 10 s here, no retry or dead-letter policy) whose endpoint answers as
    /// `receiver` says, and reports the pushes it got within `window`.
    fn push(
        &self,
        _run_id: &str,
        _receiver: Receiver,
        _window: Duration,
    ) -> impl Future<Output = Result<Vec<PushSeen>>> + Send {
        let answer = lacking(self, Resource::Push);
        async move { answer }
    }

    /// Lets `d` of the target's time pass.
    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send;
}

/// One observed fact of a case: what, and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub what: String,
    pub value: String,
}

/// Runs `cases` (all when empty) against `target`: one outcome per case, `None` where the
/// case does not apply to the target's platform.
pub async fn run<T: Target>(
    target: &T,
    run_id: &str,
    only: &[String],
) -> Vec<(&'static Case, Option<Outcome>)> {
    let mut out = Vec::new();
    for case in CASES {
        if !only.is_empty() && !only.iter().any(|o| o == case.name) {
            continue;
        }
        let outcome = cases::run_case(target, case, run_id).await;
        out.push((*case, outcome));
    }
    out
}
