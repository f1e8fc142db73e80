//! `alien emulate`: the engine in real time with real processes.

pub mod bindings;
pub mod chaos_api;
pub mod commands_api;
pub mod config;
pub mod control;
pub mod daemons;
pub mod driver;
pub mod gateway;
pub mod host;
pub mod iam;
pub mod processes;
pub mod queue_owner;
pub mod record;
pub mod run;
pub mod sqs_api;
pub mod state;
pub mod worker_calls;
