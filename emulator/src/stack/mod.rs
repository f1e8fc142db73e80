//! The stack model and its loaders.
//!
//! - [`model`]: the typed stack (upstream-stack-and-limits.md §1);
//! - [`parse_stack_json`]: JSON text → [`Stack`];
//! - [`load_stack`]: a `.json`, `.ts`, `.js` file or a directory → [`LoadedStack`], evaluating
//!   JavaScript/TypeScript stacks with bun or node as alien-cli does (real-clients.md §1);
//! - Storage `notifications` rules, checked while parsing (published-3.3.49.md §8).

mod core_modules;
mod error;
mod js;
mod load;
mod model;
mod notifications;
mod parse;
pub mod permissions;

pub use core_modules::{ALIEN_CORE_VERSION, CORE_MODULES_ENV, default_core_modules_dir};
pub use error::StackError;
pub use js::evaluate_stack_script;
pub use load::{LoadOptions, LoadedStack, STACK_FILE_NAMES, load_stack, load_stack_with};
pub use model::*;
pub use notifications::{
    MAX_NOTIFICATION_PREFIX_BYTES, MAX_NOTIFICATION_SUFFIX_BYTES, MAX_STORAGE_NOTIFICATIONS,
};
pub use parse::parse_stack_json;
