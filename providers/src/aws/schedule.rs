//! [`ScheduleProvider`] over EventBridge rules, named and converted as upstream's AWS
//! controller does (upstream-cloud-semantics.md, cron row and naming index;
//! upstream-stack-and-limits.md §4.2).

use std::sync::Arc;

use aws_sdk_eventbridge::types::RuleState;
use chrono::{DateTime, Utc};

use super::clients::AwsClients;
use super::error::map_sdk_error;
use crate::error::{ProviderError, Result};
use crate::schedule::{ScheduleProvider, ScheduleRegistration, ScheduleTrigger};
use crate::schedule_index::TriggerIndices;
use crate::types::ScheduleId;

/// Turns a stack cron string into an EventBridge `ScheduleExpression`, e.g. the emulator's
/// `crontab_to_eventbridge` (`0 12 * * *` → `cron(0 12 * * ? *)`). Injected so this crate
/// does not depend on the emulator.
pub type ToScheduleExpression = Arc<dyn Fn(&str) -> Result<String> + Send + Sync>;

/// Cron triggers as EventBridge rules `{prefix}-{target}-cron-{n}`, `n` counting this
/// handle's registrations per target from 0 (upstream's index is the trigger's position in
/// the worker's trigger list).
///
/// `register` creates the rule only: wiring the Lambda target (`PutTargets`,
/// `AddPermission`) is the deployment's job. `fire_times` is [`crate::ErrorKind::Unsupported`]:
/// EventBridge has no API that lists them.
pub struct AwsSchedules {
    eventbridge: aws_sdk_eventbridge::Client,
    prefix: String,
    to_schedule_expression: ToScheduleExpression,
    indices: TriggerIndices,
}

impl std::fmt::Debug for AwsSchedules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsSchedules")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl AwsClients {
    /// A schedule handle naming rules `{prefix}-…` and converting crons with
    /// `to_schedule_expression`.
    pub fn schedules(
        &self,
        prefix: &str,
        to_schedule_expression: ToScheduleExpression,
    ) -> AwsSchedules {
        AwsSchedules {
            eventbridge: self.eventbridge.clone(),
            prefix: prefix.to_owned(),
            to_schedule_expression,
            indices: TriggerIndices::default(),
        }
    }
}

impl ScheduleProvider for AwsSchedules {
    /// `PutRule` (`State` `ENABLED`) with the converted expression; `schedule_name` is the
    /// rule ARN (upstream-stack-and-limits.md §4.3). An expression EventBridge refuses
    /// (`ValidationException`) is `InvalidArgument`.
    async fn register(&self, trigger: ScheduleTrigger) -> Result<ScheduleRegistration> {
        let expression = (self.to_schedule_expression)(&trigger.cron)?;
        let index = self.indices.reserve(&trigger.target);
        let name = format!("{}-{}-cron-{index}", self.prefix, trigger.target);
        let put = self
            .eventbridge
            .put_rule()
            .name(&name)
            .schedule_expression(&expression)
            .state(RuleState::Enabled)
            .send()
            .await;
        match put {
            Ok(output) => Ok(ScheduleRegistration {
                id: ScheduleId::new(name),
                expression,
                schedule_name: output.rule_arn.unwrap_or_default(),
            }),
            Err(e) => {
                self.indices.release(&trigger.target, index);
                Err(map_sdk_error("events:PutRule", None, e))
            }
        }
    }

    async fn fire_times(
        &self,
        _id: &ScheduleId,
        _from: DateTime<Utc>,
        _until: DateTime<Utc>,
        _limit: usize,
    ) -> Result<Vec<DateTime<Utc>>> {
        Err(ProviderError::unsupported(
            "EventBridge does not list a rule's fire times",
        ))
    }

    /// `DescribeRule` (missing → `NotFound`), `RemoveTargets` for any targets, `DeleteRule`.
    async fn remove(&self, id: &ScheduleId) -> Result<()> {
        let name = id.as_str();
        self.eventbridge
            .describe_rule()
            .name(name)
            .send()
            .await
            .map_err(|e| map_sdk_error("events:DescribeRule", None, e))?;
        let targets = self
            .eventbridge
            .list_targets_by_rule()
            .rule(name)
            .send()
            .await
            .map_err(|e| map_sdk_error("events:ListTargetsByRule", None, e))?;
        let ids: Vec<String> = targets
            .targets()
            .iter()
            .map(|target| target.id().to_owned())
            .collect();
        if !ids.is_empty() {
            self.eventbridge
                .remove_targets()
                .rule(name)
                .set_ids(Some(ids))
                .send()
                .await
                .map_err(|e| map_sdk_error("events:RemoveTargets", None, e))?;
        }
        self.eventbridge
            .delete_rule()
            .name(name)
            .send()
            .await
            .map_err(|e| map_sdk_error("events:DeleteRule", None, e))?;
        Ok(())
    }
}
