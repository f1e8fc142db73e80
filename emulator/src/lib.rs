//! alien-emulator: the engine behind the `alien` command.
//!
//! - [`stack`]: the upstream Alien stack model and its loaders (JSON, `alien.ts`, `alien.js`).
//! - [`profile`]: one data table per platform, each value with its source.
//! - [`preflight`]: the per-platform checks behind `alien check`.
//! - [`cron`]: cron dialects (unix-cron, EventBridge, Dapr, the Local `cron` crate).
//! - [`clock`]: the system clock and the virtual clock every timer goes through.
//! - [`table`]: the CLI's tables, plain for pipes and boxed for a terminal.

pub mod chaos;
pub mod clock;
pub mod conformance;
pub mod console;
pub mod cron;
pub mod emulate;
pub mod engine;
pub mod harness;
#[cfg(feature = "otlp")]
pub mod otlp;
pub mod platform;
pub mod preflight;
pub mod profile;
pub mod scenario;
pub mod stack;
pub mod table;

pub use platform::Platform;
