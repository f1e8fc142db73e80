//! Cron cases: what each platform makes of the stack's 5-field cron and when it fires.

use alien_providers::{ScheduleProvider, ScheduleTrigger};
use chrono::{TimeZone, Utc};

use super::{CaseError, Outcome, kind_or, obs, setup};
use crate::Platform;
use crate::conformance::Target;
use crate::conformance::case::{Case, Fact, NOT_CHECKED};

const CRON_PLATFORMS: &[Platform] = &[
    Platform::Aws,
    Platform::Gcp,
    Platform::Azure,
    Platform::Local,
];
const NO_KUBERNETES_CRON: &str =
    "cron triggers are not wired on Kubernetes (upstream-cloud-semantics.md §0b Kubernetes)";

/// GCP (Cloud Scheduler), Azure (Dapr cron binding) and Local take standard unix cron.
const UNIX_CRON: &str = "upstream-cloud-semantics.md §6: Cloud Scheduler and Dapr take the 5-field string verbatim, Local prefixes seconds";

pub const DAILY: Case = Case {
    name: "schedule-daily",
    source: "upstream-stack-and-limits.md §4.2, upstream-cloud-semantics.md §6: the stack's cron in each platform's dialect; removing a schedule twice finds nothing the second time (ScheduleProvider::remove: NotFound)",
    platforms: CRON_PLATFORMS,
    elsewhere: NO_KUBERNETES_CRON,
    facts: &[
        Fact {
            what: "0 12 * * *",
            value: "registered",
            on: &[],
        },
        Fact {
            what: "expression",
            value: "0 12 * * *",
            on: &[
                (
                    Platform::Aws,
                    "cron(0 12 * * ? *)",
                    "upstream-stack-and-limits.md §4.2: crontab_to_eventbridge",
                ),
                (
                    Platform::Local,
                    "0 0 12 * * *",
                    "upstream-cloud-semantics.md §6: \"0 \" + cron",
                ),
                (Platform::Gcp, "0 12 * * *", UNIX_CRON),
            ],
        },
        Fact {
            what: "schedule name",
            value: NOT_CHECKED,
            on: &[
                (
                    Platform::Aws,
                    "arn:aws:events:<region>:<account>:rule/<name>",
                    "upstream-stack-and-limits.md §4.3: the worker sees the rule ARN",
                ),
                (
                    Platform::Gcp,
                    "{prefix}-{worker}-cron-0",
                    "upstream-cloud-semantics.md §6: Cloud Scheduler job {prefix}-{workerId}-cron-{index}",
                ),
                (
                    Platform::Azure,
                    "cron-{prefix}-{worker}-0",
                    "upstream-cloud-semantics.md §6: Dapr component cron-{containerApp}-{n}",
                ),
                (
                    Platform::Local,
                    "0 12 * * *",
                    "upstream-stack-and-limits.md §4.3: the cron string",
                ),
            ],
        },
        Fact {
            what: "remove",
            value: "ok",
            on: &[],
        },
        Fact {
            what: "remove again",
            value: "NotFound",
            on: &[],
        },
    ],
};

pub const BOTH_DAY_FIELDS: Case = Case {
    name: "schedule-both-day-fields",
    source: "a cron with both day-of-month and day-of-week",
    platforms: CRON_PLATFORMS,
    elsewhere: NO_KUBERNETES_CRON,
    facts: &[
        Fact {
            what: "0 12 1 * 1",
            value: "registered",
            on: &[
                (
                    Platform::Aws,
                    "InvalidArgument",
                    "EventBridge cron: day-of-month and day-of-week cannot both be set (one must be ?); PutRule answers ValidationException",
                ),
                (Platform::Gcp, "registered", UNIX_CRON),
            ],
        },
        Fact {
            what: "expression",
            value: NOT_CHECKED,
            on: &[],
        },
    ],
};

pub const WEEKDAY_NUMBERING: Case = Case {
    name: "schedule-weekday-numbering",
    source: "`0 18 * * 5` from Monday 2026-01-05 for 14 days; Cloud Scheduler (unix-cron) and Dapr (robfig/cron) count 0 = Sunday, so 5 is Friday (upstream-stack-and-limits.md §4.3)",
    platforms: CRON_PLATFORMS,
    elsewhere: NO_KUBERNETES_CRON,
    facts: &[Fact {
        what: "fires on",
        value: "Fri,Fri",
        on: &[
            (
                Platform::Aws,
                "Thu,Thu",
                "upstream-cloud-semantics.md §6.1: crontab_to_eventbridge keeps the day numbers, and EventBridge counts 1 = Sunday, so 5 is Thursday",
            ),
            (
                Platform::Local,
                "Thu,Thu",
                "upstream-stack-and-limits.md §4.3: the Local scheduler's cron crate counts Sunday = 1, so 5 is Thursday",
            ),
        ],
    }],
};

/// Registers the cron that is the case's first fact.
pub async fn register<T: Target>(target: &T, case: &Case, run_id: &str) -> Outcome {
    let cron = case.facts[0].what;
    let schedules = setup(target.schedules().await)?;
    let registered = schedules
        .register(ScheduleTrigger {
            target: format!("conf-{run_id}-w"),
            cron: cron.to_string(),
        })
        .await;
    let expression = registered
        .as_ref()
        .map_or("none".to_string(), |r| r.expression.clone());
    let name = registered.as_ref().map_or("none".to_string(), |r| {
        schedule_name_shape(&r.schedule_name, &format!("conf-{run_id}-w"))
    });
    let mut out = vec![obs("expression", expression), obs("schedule name", name)];
    if let Ok(registration) = &registered {
        let removed = schedules.remove(&registration.id).await;
        out.push(obs("remove", kind_or(removed, "ok")));
        let again = schedules.remove(&registration.id).await;
        out.push(obs("remove again", kind_or(again, "ok")));
    }
    out.insert(0, obs(cron, kind_or(registered, "registered")));
    Ok(out)
}

/// The schedule name with the run's parts replaced by placeholders: an EventBridge rule ARN's
/// region, account and rule name, the worker's name, and the stack id the engine uses as the
/// deployment prefix.
fn schedule_name_shape(name: &str, worker: &str) -> String {
    if let Some(rest) = name.strip_prefix("arn:aws:events:") {
        let parts: Vec<&str> = rest.splitn(3, ':').collect();
        if parts.len() == 3 && parts[2].starts_with("rule/") {
            return "arn:aws:events:<region>:<account>:rule/<name>".into();
        }
    }
    name.replace(worker, "{worker}")
        .replace("conformance", "{prefix}")
}

pub async fn weekday_numbering<T: Target>(target: &T, run_id: &str) -> Outcome {
    let schedules = setup(target.schedules().await)?;
    let registration = schedules
        .register(ScheduleTrigger {
            target: format!("conf-{run_id}-w"),
            cron: "0 18 * * 5".into(),
        })
        .await?;
    let from = Utc
        .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
        .single()
        .ok_or(CaseError::Failed("bad start date".into()))?;
    let times = setup(
        schedules
            .fire_times(
                &registration.id,
                from,
                from + chrono::Duration::days(14),
                10,
            )
            .await,
    )?;
    let days: Vec<String> = times.iter().map(|t| t.format("%a").to_string()).collect();
    Ok(vec![obs("fires on", days.join(","))])
}

#[cfg(test)]
mod tests {
    use super::schedule_name_shape;

    #[test]
    fn schedule_names_keep_their_shape_without_run_details() {
        assert_eq!(
            schedule_name_shape("arn:aws:events:us-east-1:123456789012:rule/x-w-cron-0", "w"),
            "arn:aws:events:<region>:<account>:rule/<name>"
        );
        assert_eq!(
            schedule_name_shape("conformance-conf-1-w-cron-0", "conf-1-w"),
            "{prefix}-{worker}-cron-0"
        );
        assert_eq!(schedule_name_shape("0 12 * * *", "conf-1-w"), "0 12 * * *");
    }
}
