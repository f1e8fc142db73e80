//! The state of `alien emulate`: the durable store ([`store`]) and the handle every part
//! reaches the engine through ([`handle`]).

pub mod buckets;
pub mod handle;
pub mod objects;
pub mod snapshot;
pub mod store;
pub mod watch;

pub use handle::EngineHandle;
