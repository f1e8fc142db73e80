//! Worker checks: memory, timeout, triggers, storage events, probes and concurrency, each
//! against the selected profile.

use super::{Ctx, Diagnostic};
use crate::profile::{
    ConcurrencyModel, DeliveryModel, MemoryRule, ScaleToZero, TriggerEvents, TriggerWiring,
};
use crate::stack::WorkerTrigger;

/// `WorkerMemoryCheck` (§3.3.1) with the profile's rule.
pub fn memory(ctx: &Ctx) -> Vec<Diagnostic> {
    let rule = &ctx.profile.worker.memory;
    let mut out = Vec::new();
    for (id, worker) in ctx.stack.workers() {
        let m = worker.memory_mb;
        match &rule.value {
            MemoryRule::Range {
                service,
                min,
                max,
                floor,
            } => {
                if m < *min || m > *max {
                    out.push(Diagnostic::error(
                        "WORKER_MEMORY_INVALID",
                        "WorkerMemoryCheck",
                        Some(id),
                        format!("Worker '{id}': memory_mb {m} is out of range for {service} ({min}–{max} MB)"),
                        rule.source,
                    ));
                } else if let Some(floor) = floor.filter(|f| m < *f) {
                    out.push(Diagnostic::error(
                        "WORKER_MEMORY_INVALID",
                        "WorkerMemoryCheck",
                        Some(id),
                        format!("Worker '{id}': memory_mb {m} is below the {service} gen2 minimum of {floor} MiB"),
                        rule.source,
                    ));
                }
            }
            MemoryRule::Steps { service, values } => {
                let max = values.iter().copied().max().unwrap_or(0);
                if m > max {
                    out.push(Diagnostic::error(
                        "WORKER_MEMORY_INVALID",
                        "WorkerMemoryCheck",
                        Some(id),
                        format!(
                            "Worker '{id}': memory_mb {m} exceeds the {service} maximum of {max} MB"
                        ),
                        rule.source,
                    ));
                } else if !values.contains(&m) {
                    let next = values.iter().copied().find(|v| *v >= m).unwrap_or(max);
                    out.push(Diagnostic::warning(
                        "WORKER_MEMORY_ADJUSTED",
                        "WorkerMemoryCheck",
                        Some(id),
                        format!(
                            "Worker '{id}': memory_mb {m} is not a valid {service} value. It will be automatically adjusted to {next} MB at deploy time"
                        ),
                        rule.source,
                    ));
                }
            }
            MemoryRule::Unconstrained => {}
        }
    }
    out
}

/// The platform's own execution cap (Lambda stops at 900 s whatever Alien allows), and the
/// runtime's 300 s cap on event handlers.
pub fn timeout(ctx: &Ctx) -> Vec<Diagnostic> {
    let worker_profile = &ctx.profile.worker;
    let cap = &worker_profile.execution_cap_seconds;
    let mut out = Vec::new();
    for (id, worker) in ctx.stack.workers() {
        let t = worker.timeout_seconds;
        if let Some(max) = cap.value.filter(|max| t > *max) {
            out.push(Diagnostic::error(
                "WORKER_TIMEOUT_EXCEEDS_PLATFORM",
                "WorkerTimeoutPlatformCheck",
                Some(id),
                format!(
                    "Worker '{id}': timeoutSeconds {t} exceeds the {} maximum execution time of {max} s; the platform stops the invocation at {max} s",
                    worker_profile.backing_service.value
                ),
                cap.source,
            ));
        }
        let caps = &worker_profile.event_task_timeout;
        let mut seen = Vec::new();
        for trigger in &worker.triggers {
            let (kind, cap) = match trigger {
                WorkerTrigger::Queue { .. } => ("queue", &caps.queue_seconds),
                WorkerTrigger::Storage { .. } => ("storage", &caps.storage_seconds),
                WorkerTrigger::Schedule { .. } => ("cron", &caps.cron_seconds),
            };
            if t > cap.value && !seen.contains(&kind) {
                seen.push(kind);
                out.push(Diagnostic::warning(
                    "EVENT_TASK_TIMEOUT",
                    "WorkerTimeoutPlatformCheck",
                    Some(id),
                    format!(
                        "Worker '{id}': timeoutSeconds {t} is longer than the runtime's fixed {} s cap on {kind} handlers; {kind} events are cut at {} s",
                        cap.value, cap.value
                    ),
                    cap.source,
                ));
            }
        }
    }
    out
}

/// `SingleQueueTriggerCheck` (§3.2): at most one queue trigger per worker.
pub fn single_queue_trigger(ctx: &Ctx) -> Vec<Diagnostic> {
    let max = &ctx.profile.worker.max_queue_triggers;
    ctx.stack
        .workers()
        .filter_map(|(id, worker)| {
            let n = worker.queue_triggers().count();
            (n > max.value as usize).then(|| {
                Diagnostic::error(
                    "SINGLE_QUEUE_TRIGGER",
                    "SingleQueueTriggerCheck",
                    Some(id),
                    format!("Worker '{id}' has {n} queue triggers, but only one queue trigger per worker is supported"),
                    max.source,
                )
            })
        })
        .collect()
}

/// Triggers the platform does not wire (Kubernetes: none are). Upstream accepts them
/// silently; queue triggers are unsupported per seed 001, so they are errors here.
pub fn trigger_wiring(ctx: &Ctx) -> Vec<Diagnostic> {
    let support = &ctx.profile.worker.triggers;
    let platform = ctx.profile.platform;
    let mut out = Vec::new();
    for (id, worker) in ctx.stack.workers() {
        for trigger in &worker.triggers {
            let (kind, wiring) = match trigger {
                WorkerTrigger::Queue { .. } => ("queue", &support.queue),
                WorkerTrigger::Storage { .. } => ("storage", &support.storage),
                WorkerTrigger::Schedule { .. } => ("schedule", &support.schedule),
            };
            if wiring.value == TriggerWiring::Wired {
                continue;
            }
            if kind == "queue" {
                out.push(Diagnostic::error(
                    "TRIGGER_NOT_SUPPORTED",
                    "TriggerSupportCheck",
                    Some(id),
                    format!(
                        "Worker '{id}': queue triggers are not currently supported on {platform}"
                    ),
                    wiring.source,
                ));
            } else {
                out.push(Diagnostic::warning(
                    "TRIGGER_NOT_WIRED",
                    "TriggerSupportCheck",
                    Some(id),
                    format!(
                        "Worker '{id}': the {kind} trigger is accepted on {platform} but never wired; the handler will never be called"
                    ),
                    wiring.source,
                ));
            }
        }
    }
    out
}

/// Storage trigger `events` per platform: Azure accepts only created/deleted/tierChanged;
/// Local accepts anything but only created/deleted ever fire.
pub fn storage_events(ctx: &Ctx) -> Vec<Diagnostic> {
    let rule = &ctx.profile.storage.trigger_events;
    if ctx.profile.worker.triggers.storage.value == TriggerWiring::NotWired {
        return vec![];
    }
    let mut out = Vec::new();
    for (id, worker) in ctx.stack.workers() {
        for trigger in &worker.triggers {
            let WorkerTrigger::Storage { events, .. } = trigger else {
                continue;
            };
            for event in events {
                match &rule.value {
                    TriggerEvents::Only { allowed } if !allowed.contains(&event.as_str()) => {
                        out.push(Diagnostic::error(
                            "RESOURCE_CONFIG_INVALID",
                            "StorageTriggerEventsCheck",
                            Some(id),
                            format!(
                                "Azure storage trigger event '{event}' is not supported; expected one of: {}",
                                allowed.join(", ")
                            ),
                            rule.source,
                        ));
                    }
                    TriggerEvents::FiresOnly { firing } if !firing.contains(&event.as_str()) => {
                        out.push(Diagnostic::warning(
                            "STORAGE_EVENT_NEVER_FIRES",
                            "StorageTriggerEventsCheck",
                            Some(id),
                            format!(
                                "Worker '{id}': storage trigger event '{event}' never fires on {}; only {} do",
                                ctx.profile.platform,
                                firing.join(" and ")
                            ),
                            rule.source,
                        ));
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

/// Pub/Sub takes ack deadlines of 10..=600 s; the GCP controller passes `timeoutSeconds`
/// through unclamped, so a queue-triggered worker outside that range fails to deploy.
pub fn ack_deadline(ctx: &Ctx) -> Vec<Diagnostic> {
    if ctx.profile.queue.delivery.value != DeliveryModel::AckDeadlinePerSubscription {
        return vec![];
    }
    ctx.stack
        .workers()
        .filter(|(_, w)| w.queue_triggers().next().is_some() && !(10..=600).contains(&w.timeout_seconds))
        .map(|(id, w)| {
            Diagnostic::error(
                "RESOURCE_CONFIG_INVALID",
                "PubSubAckDeadlineCheck",
                Some(id),
                format!(
                    "Worker '{id}': timeoutSeconds {} becomes the Pub/Sub push subscription ack deadline, which must be between 10 and 600 seconds",
                    w.timeout_seconds
                ),
                "upstream-cloud-semantics.md §4.3 (ack deadline passed unclamped; Pub/Sub accepts 10-600 s)",
            )
        })
        .collect()
}

/// Settings that have no effect on the platform, and Azure's private workers that scale to
/// zero with no rule to wake them (upstream-cloud-semantics.md §13 item 6).
pub fn ineffective_settings(ctx: &Ctx) -> Vec<Diagnostic> {
    let worker_profile = &ctx.profile.worker;
    let platform = ctx.profile.platform;
    let mut out = Vec::new();
    for (id, worker) in ctx.stack.workers() {
        if worker.readiness_probe.is_some() && !worker.is_public() {
            out.push(Diagnostic::warning(
                "READINESS_PROBE_UNUSED",
                "ReadinessProbeCheck",
                Some(id),
                format!(
                    "Worker '{id}': readinessProbe is only used for workers with public endpoints"
                ),
                "upstream-stack-and-limits.md §1.6 (ReadinessProbe)",
            ));
        }
        let ignored = matches!(
            worker_profile.concurrency.value,
            ConcurrencyModel::FixedReplicas { .. } | ConcurrencyModel::SingleProcess
        );
        if let Some(limit) = worker.concurrency_limit.filter(|_| ignored) {
            out.push(Diagnostic::warning(
                "CONCURRENCY_LIMIT_IGNORED",
                "ConcurrencyLimitCheck",
                Some(id),
                format!("Worker '{id}': concurrencyLimit {limit} is ignored on {platform}"),
                worker_profile.concurrency.source,
            ));
        }
        let event_driven = !worker.triggers.is_empty() || worker.commands_enabled;
        if worker_profile.scale_to_zero.value == ScaleToZero::PrivateOnly
            && !worker.is_public()
            && event_driven
        {
            out.push(Diagnostic::warning(
                "SCALE_TO_ZERO_NO_WAKE",
                "ScaleToZeroCheck",
                Some(id),
                format!(
                    "Worker '{id}' has no public endpoint, so it runs with min_replicas 0 and no scale rules on {platform}: while scaled to zero its triggers and commands are not delivered"
                ),
                "upstream-cloud-semantics.md §13 item 6",
            ));
        }
    }
    out
}
