//! Values shared by every platform because they come from Alien itself (the bindings, the
//! worker runtime, the commands protocol) rather than from a cloud.

use super::model::{CommandsProfile, KvProfile};
use super::value::{Sourced, src};

pub const SEED_WORKER: &str = "seed 000 (Worker overview)";
pub const SEED_LIMITS: &str = "seed 001 (Worker behaviour and limits)";

/// `EVENT_TASK_TIMEOUT`, the runtime's fixed 300 s cap on queue, storage and cron tasks.
pub fn event_task_timeout() -> Sourced<u32> {
    src(
        300,
        "upstream-stack-and-limits.md §6.1 (EVENT_TASK_TIMEOUT, transports/shared.rs)",
    )
}

/// `MAX_MESSAGE_BYTES`: the binding's 64 KiB cap on every platform.
pub fn binding_message_max_bytes() -> Sourced<u64> {
    src(
        65_536,
        "upstream-stack-and-limits.md §6.3 (MAX_MESSAGE_BYTES); published-3.3.49.md §11",
    )
}

/// `MAX_BATCH_SIZE`: a binding `receive()` takes 1..=10 messages.
pub fn receive_max_batch() -> Sourced<u32> {
    src(10, "upstream-stack-and-limits.md §6.3 (MAX_BATCH_SIZE)")
}

/// "A worker can be triggered by at most one queue."
pub fn max_queue_triggers() -> Sourced<u32> {
    src(
        1,
        "seed 001 Limits (Queue triggers per worker: 1); upstream-stack-and-limits.md §3.2 SingleQueueTriggerCheck",
    )
}

/// The commands protocol constants (`commands_types.rs`).
pub fn commands(push_transport: Sourced<&'static str>) -> CommandsProfile {
    CommandsProfile {
        push_transport,
        inline_max_bytes: src(
            150_000,
            "published-3.3.49.md §10 (COMMANDS_INLINE_MAX_BYTES)",
        ),
        default_lease_seconds: src(
            60,
            "published-3.3.49.md §10 (LeaseRequest leaseSeconds default 60)",
        ),
    }
}

/// KV limits enforced by the bindings on every platform.
pub fn kv(backing_service: Sourced<&'static str>) -> KvProfile {
    KvProfile {
        backing_service,
        max_key_bytes: src(512, "upstream-stack-and-limits.md §6.5 (MAX_KEY_BYTES)"),
        key_charset: src("a-z A-Z 0-9 - _ : .", "upstream-stack-and-limits.md §6.5"),
        max_value_bytes: src(
            24_576,
            "upstream-stack-and-limits.md §6.5 (MAX_VALUE_BYTES)",
        ),
        ttl_expiry: src(
            "lazy: expired keys read as absent",
            "upstream-stack-and-limits.md §6.5",
        ),
    }
}

/// The Local daemon supervisor's stop grace default, also used by Kubernetes pods.
pub fn default_stop_grace() -> Sourced<u32> {
    src(
        30,
        "upstream-stack-and-limits.md §1.10 (Local supervisor default 30 s); upstream-cloud-semantics.md §7",
    )
}
