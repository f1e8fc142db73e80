//! [`ScheduleProvider`] over Cloud Scheduler jobs, named and shaped as upstream's GCP
//! controller does: job `{prefix}-{workerId}-cron-{index}` in
//! `projects/{p}/locations/{region}`, the 5-field cron verbatim, `time_zone` `UTC`, an HTTP
//! target `POST` to the worker's service URL with no body or headers, an OIDC token for the
//! worker's service account (audience = the URL without its trailing slash), no retry config
//! (upstream-cloud-semantics.md §6, §0b GCP).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use google_cloud_scheduler_v1::client::CloudScheduler;
use google_cloud_scheduler_v1::model::{HttpMethod, HttpTarget, Job, OidcToken};

use super::config::GcpClients;
use super::error::map_gcp_error;
use crate::error::{ErrorKind, ProviderError, Result};
use crate::schedule::{ScheduleProvider, ScheduleRegistration, ScheduleTrigger};
use crate::schedule_index::TriggerIndices;
use crate::types::ScheduleId;

/// Where a worker's jobs send their request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTarget {
    /// The Cloud Run service URL, e.g. `https://w-abc-uc.a.run.app`.
    pub url: String,
    /// The worker's service account; `None` sends no OIDC token.
    pub service_account_email: Option<String>,
}

/// Cron triggers as Cloud Scheduler jobs. `n` in the job name counts this handle's
/// registrations per target from 0 (upstream's index is the trigger's position in the
/// worker's trigger list). `schedule_name` is the job's full name, which the runtime reads
/// from `X-CloudScheduler-JobName` (§6). `fire_times` is [`ErrorKind::Unsupported`]: Cloud
/// Scheduler has no API listing them.
#[derive(Debug)]
pub struct GcpSchedules {
    scheduler: Option<CloudScheduler>,
    parent: String,
    prefix: String,
    targets: BTreeMap<String, ServiceTarget>,
    indices: TriggerIndices,
}

impl GcpClients {
    /// A schedule handle naming jobs `{prefix}-…` under this project and location. Targets
    /// are added with [`GcpSchedules::with_target`].
    pub fn schedules(&self, prefix: &str) -> GcpSchedules {
        GcpSchedules {
            scheduler: self.scheduler.clone(),
            parent: format!("projects/{}/locations/{}", self.project, self.location),
            prefix: prefix.to_owned(),
            targets: BTreeMap::new(),
            indices: TriggerIndices::default(),
        }
    }
}

impl GcpSchedules {
    /// Jobs for worker `worker` call `target`.
    pub fn with_target(mut self, worker: &str, target: ServiceTarget) -> Self {
        self.targets.insert(worker.to_owned(), target);
        self
    }

    /// The job upstream creates for `trigger` under `name`.
    fn job(&self, name: &str, trigger: &ScheduleTrigger) -> Result<Job> {
        let target = self.targets.get(&trigger.target).ok_or_else(|| {
            ProviderError::invalid_argument(format!(
                "no service URL for worker '{}' (GcpSchedules::with_target)",
                trigger.target
            ))
        })?;
        let mut http = HttpTarget::new()
            .set_uri(&target.url)
            .set_http_method(HttpMethod::Post);
        if let Some(email) = &target.service_account_email {
            http = http.set_oidc_token(
                OidcToken::new()
                    .set_service_account_email(email)
                    .set_audience(target.url.trim_end_matches('/')),
            );
        }
        Ok(Job::new()
            .set_name(name)
            .set_schedule(&trigger.cron)
            .set_time_zone("UTC")
            .set_http_target(http))
    }

    fn client(&self) -> Result<&CloudScheduler> {
        self.scheduler.as_ref().ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Unavailable,
                "Cloud Scheduler: no endpoint configured for this anonymous (emulator) \
                 GcpConfig; there is no Cloud Scheduler emulator",
            )
        })
    }
}

impl ScheduleProvider for GcpSchedules {
    /// `CreateJob`. A schedule Cloud Scheduler refuses (`INVALID_ARGUMENT`) is
    /// `InvalidArgument`; the expression is the cron verbatim.
    async fn register(&self, trigger: ScheduleTrigger) -> Result<ScheduleRegistration> {
        let client = self.client()?;
        let index = self.indices.reserve(&trigger.target);
        let name = format!(
            "{}/jobs/{}-{}-cron-{index}",
            self.parent, self.prefix, trigger.target
        );
        let created = match self.job(&name, &trigger) {
            Ok(job) => client
                .create_job()
                .set_parent(&self.parent)
                .set_job(job)
                .send()
                .await
                .map_err(|e| map_gcp_error("cloudscheduler.jobs.create", None, e)),
            Err(e) => Err(e),
        };
        match created {
            Ok(job) => Ok(ScheduleRegistration {
                id: ScheduleId::new(&name),
                expression: trigger.cron,
                schedule_name: if job.name.is_empty() { name } else { job.name },
            }),
            Err(e) => {
                self.indices.release(&trigger.target, index);
                Err(e)
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
            "Cloud Scheduler does not list a job's fire times",
        ))
    }

    /// `DeleteJob` on the job's full name; a missing job is `NotFound`.
    async fn remove(&self, id: &ScheduleId) -> Result<()> {
        self.client()?
            .delete_job()
            .set_name(id.as_str())
            .send()
            .await
            .map_err(|e| map_gcp_error("cloudscheduler.jobs.delete", None, e))?;
        Ok(())
    }
}
