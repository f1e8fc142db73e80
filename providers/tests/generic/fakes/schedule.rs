use std::collections::BTreeMap;
use std::sync::Mutex;

use alien_providers::{
    ProviderError, Result, ScheduleId, ScheduleProvider, ScheduleRegistration, ScheduleTrigger,
};
use chrono::{DateTime, Duration, DurationRound, Utc};

/// Understands only `*/N * * * *` (every N minutes on the clock), rendered EventBridge-style
/// as `rate(N minutes)`.
#[derive(Default)]
pub struct MinuteSchedules(Mutex<BTreeMap<ScheduleId, i64>>);

fn every_n_minutes(cron: &str) -> Option<i64> {
    let rest = cron.strip_prefix("*/")?.strip_suffix(" * * * *")?;
    rest.parse().ok().filter(|n| (1..=59).contains(n))
}

impl ScheduleProvider for MinuteSchedules {
    async fn register(&self, trigger: ScheduleTrigger) -> Result<ScheduleRegistration> {
        let minutes = every_n_minutes(&trigger.cron).ok_or_else(|| {
            ProviderError::invalid_argument(format!("Invalid cron expression '{}'", trigger.cron))
        })?;
        let mut schedules = super::lock(&self.0);
        let id = ScheduleId::new(format!("{}-cron-{}", trigger.target, schedules.len()));
        schedules.insert(id.clone(), minutes);
        Ok(ScheduleRegistration {
            id: id.clone(),
            expression: format!("rate({minutes} minutes)"),
            schedule_name: id.into_string(),
        })
    }

    async fn fire_times(
        &self,
        id: &ScheduleId,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DateTime<Utc>>> {
        let minutes = *super::lock(&self.0)
            .get(id)
            .ok_or_else(|| ProviderError::not_found(format!("schedule '{id}'")))?;
        let step = Duration::minutes(minutes);
        let floor = from
            .duration_trunc(Duration::hours(1))
            .map_err(|e| ProviderError::invalid_argument(e.to_string()))?;
        Ok((0..)
            .map(|i| floor + step * i)
            .skip_while(|t| *t < from)
            .take_while(|t| *t < until)
            .take(limit)
            .collect())
    }

    async fn remove(&self, id: &ScheduleId) -> Result<()> {
        super::lock(&self.0)
            .remove(id)
            .map(drop)
            .ok_or_else(|| ProviderError::not_found(format!("schedule '{id}'")))
    }
}
