//! Cron triggers: a 5-field unix cron (UTC) firing a target worker.
//!
//! Each platform turns the stack's cron string into its own form and names the schedule
//! differently (upstream-stack-and-limits.md §4.1–§4.3).

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::types::ScheduleId;

/// A schedule trigger as declared in the stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleTrigger {
    /// Worker resource id the schedule fires.
    pub target: String,
    /// Standard 5-field unix cron (`minute hour day-of-month month day-of-week`), UTC.
    pub cron: String,
}

/// What the platform made of a [`ScheduleTrigger`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRegistration {
    /// Handle for `fire_times` and `remove`.
    pub id: ScheduleId,
    /// The schedule in the platform's own syntax: EventBridge `cron(0 12 * * ? *)` or
    /// `rate(1 day)`, the raw cron on GCP and Azure, the seconds-first `0 0 12 * * *` locally
    /// (upstream-stack-and-limits.md §4.2, §4.3).
    pub expression: String,
    /// The name the worker sees as the cron event's schedule name: the rule ARN on AWS, the
    /// job name on GCP, the Dapr component on Azure, the cron string locally (§4.3).
    pub schedule_name: String,
}

/// Registers, inspects and removes cron triggers.
pub trait ScheduleProvider: Send + Sync {
    /// Registers `trigger`. An expression the platform cannot express is
    /// `InvalidArgument` (upstream: "Invalid cron expression '{cron}': {reason}", §4.2 (e)).
    fn register(
        &self,
        trigger: ScheduleTrigger,
    ) -> impl Future<Output = Result<ScheduleRegistration>> + Send;

    /// Fire times of schedule `id` in `[from, until)`, ascending, at most `limit` of them,
    /// as the platform would fire them (e.g. EventBridge `rate(…)` is anchored at rule
    /// creation, not at clock boundaries, §4.2 (b)).
    fn fire_times(
        &self,
        id: &ScheduleId,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DateTime<Utc>>>> + Send;

    /// Removes schedule `id`; `NotFound` if it is not registered.
    fn remove(&self, id: &ScheduleId) -> impl Future<Output = Result<()>> + Send;
}
