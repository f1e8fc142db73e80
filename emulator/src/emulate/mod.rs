//! `alien emulate`: the engine in real time with real processes.

pub mod bindings;
pub mod config;
pub mod control;
pub mod driver;
pub mod gateway;
pub mod host;
pub mod queue_owner;
pub mod run;
pub mod storage_watch;
pub mod store;
