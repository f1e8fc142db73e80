//! The deterministic simulation engine behind `alien simulate`: virtual time, a seeded RNG,
//! one platform profile, in-process handlers, and a trace of everything that happened.
//!
//! ```text
//! Sim::new(stack, profile, config)      provision queues, subscriptions, crons, daemons
//!   .set_handler("worker", handler)     closures, Handler impls or scripted Behaviours
//!   .send / .put_object / .invoke_http / .create_command / .downtime / .inject
//!   .advance(duration)                  fire every timer due, in order
//!   .trace()                            stable text and JSON
//! ```

mod causes;
mod changes;
pub(crate) mod commands;
mod cron;
mod daemon;
mod dead_letters;
mod delivery_faults;
pub mod duration_serde;
mod events;
mod faults;
mod handler;
mod http;
mod instances;
mod invoke;
mod kv;
mod provider;
mod push_backoff;
mod queue_binding;
mod queue_settings;
mod queues;
mod scaling;
mod sim;
mod state;
mod storage;
mod throttle;
mod trace;

pub use changes::{ChangeSet, ClockRow, DeadLetterRow, MessageKey, Row};
pub use commands::{CommandRecord, CommandState, CommandStatus};
pub use daemon::{
    DaemonAction, DaemonBehaviour, DaemonProcessExit, DaemonSignal, DaemonState, DaemonStatus,
};
pub use events::{CommandEvent, CronEvent, Event, HttpRequest, QueueMessage, StorageEvent};
pub use faults::{FaultKind, Faults};
pub use handler::{Behaviour, Handler, HandlerCtx, HandlerResult, Mode, Reply, Scripted};
pub use provider::{
    EmulatedDaemons, EmulatedKv, EmulatedQueue, EmulatedSchedules, EmulatedStorage,
    EmulatedWorkers, SharedSim, shared,
};
pub use queue_binding::{Peeked, Received};
pub use queue_settings::QueueSettings;
pub use queues::{QueueStats, SendVia};
pub use sim::{DeadLetter, Dispatch, HttpResult, Sim, SimConfig, SimError, TRACED_PAYLOAD_CHARS};
pub use state::SimState;
pub use storage::{FileObject, etag_of, is_staging_key};
/// The parts of [`SimState`], for stores.
pub mod state_types {
    pub use super::state::{
        CronState, DeadLetterState, KvState, MessageState, ObjectState, QueueState,
        SubscriptionState,
    };
}
pub use kv::KvRow;
pub use trace::{Kind, Trace, TraceEvent, offset, render_line};
