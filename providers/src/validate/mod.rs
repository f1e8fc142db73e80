//! Pure validation helpers every provider implementation shares, so the emulator and the
//! cloud adapters reject the same inputs with the same kinds, codes and texts.

mod kv;
mod queue;
mod storage;

pub use kv::{validate_kv_key, validate_kv_value};
pub use queue::{validate_message_size, validate_receive_batch, validate_renew_duration};
pub use storage::validate_storage_key;
