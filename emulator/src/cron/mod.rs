//! Cron dialects: one stack cron string, read the way each platform reads it
//! (upstream-stack-and-limits.md §4, upstream-cloud-semantics.md §6).
//!
//! - [`crontab_to_eventbridge`]: upstream's AWS conversion, quirks included.
//! - [`compile`] / [`Schedule`]: next fire times under [`CronDialect::UnixCron`] (GCP),
//!   [`CronDialect::EventBridge`] (AWS), [`CronDialect::Dapr`] (Azure) and
//!   [`CronDialect::CronCrate`] (Local). All times are UTC (§4.1).
//! - [`portability_warnings`]: where the same string behaves differently across platforms.

mod bits;
mod calendar;
mod dapr;
mod error;
mod eventbridge;
mod local;
mod portability;
mod schedule;
mod to_eventbridge;
mod unix;

pub use error::CronError;
pub use portability::{CronWarning, portability_warnings};
pub use schedule::{CronDialect, Schedule, compile};
pub use to_eventbridge::crontab_to_eventbridge;
