//! Conformance: the same cases, written only against the provider traits, run against the
//! emulator's AWS profile and against a real peer (moto, LocalStack, AWS) through the AWS
//! adapter; each case records what it observed, and the report compares them outcome by
//! outcome (anchors.md: LocalStack's parity-testing method — one suite, several targets).
//!
//! Time: a case that needs time to pass asks its target to [`Target::sleep`]; the emulator
//! advances its virtual clock, a peer sleeps in real time (cases poll with tolerance).

mod cases;
mod emulator_target;
pub(crate) mod report;

#[cfg(feature = "aws")]
mod aws_target;

use std::future::Future;
use std::time::Duration;

use alien_providers::{
    QueueMessage, QueueProvider, Result, ScheduleProvider, StorageProvider, WorkerProvider,
};

pub use cases::{CASES, Case};
pub use emulator_target::EmulatorTarget;
pub use report::{CaseRow, Cell, KNOWN_GAPS, KnownGap, Report, judge};

#[cfg(feature = "aws")]
pub use aws_target::AwsTarget;

/// A queue as a case asks for it: the attributes a deployment sets on SQS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSetup {
    /// Unique per run.
    pub name: String,
    pub visibility_timeout: Duration,
    pub max_message_bytes: Option<u64>,
    /// A dead-letter queue after this many receives.
    pub max_receive_count: Option<u32>,
}

/// A notification rule's literal key filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRule {
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

/// What a case needs from a target.
pub trait Target: Send + Sync {
    type Queue: QueueProvider;
    type Storage: StorageProvider;
    type Schedules: ScheduleProvider;
    type Workers: WorkerProvider;

    /// `emulator`, `moto`, `localstack`, `aws`.
    fn name(&self) -> &str;

    fn queue(&self, setup: &QueueSetup) -> impl Future<Output = Result<Self::Queue>> + Send;

    /// Messages in the queue's dead-letter queue, as a receive from it shows them (attempt =
    /// the receive count they carry, that receive included).
    fn dead_letters(
        &self,
        queue: &Self::Queue,
    ) -> impl Future<Output = Result<Vec<QueueMessage>>> + Send;

    fn storage(&self, name: &str) -> impl Future<Output = Result<Self::Storage>> + Send;

    /// A bucket `name` with a Storage `notifications` rule (published-3.3.49.md §8): created
    /// objects whose keys match `rule` go to a new queue `queue`, as StorageEvent JSON.
    fn notifying_storage(
        &self,
        name: &str,
        queue: &QueueSetup,
        rule: &KeyRule,
    ) -> impl Future<Output = Result<(Self::Storage, Self::Queue)>> + Send;

    fn schedules(&self) -> impl Future<Output = Result<Self::Schedules>> + Send;

    fn workers(&self) -> impl Future<Output = Result<Self::Workers>> + Send;

    /// Lets `d` of the target's time pass.
    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send;
}

/// One observed fact of a case: what, and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub what: String,
    pub value: String,
}

/// Runs `cases` (all when empty) against `target`; one list of observations per case, or the
/// error that stopped it.
pub async fn run<T: Target>(
    target: &T,
    run_id: &str,
    only: &[String],
) -> Vec<(&'static Case, std::result::Result<Vec<Observation>, String>)> {
    let mut out = Vec::new();
    for case in CASES {
        if !only.is_empty() && !only.iter().any(|o| o == case.name) {
            continue;
        }
        let observed = cases::run_case(target, case, run_id).await;
        out.push((case, observed));
    }
    out
}
