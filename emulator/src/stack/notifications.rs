//! The rules of Storage `notifications` (alien-core 3.3.49, published-3.3.49.md §8), checked
//! when a stack is parsed, after every resource has parsed: at most 10 rules per Storage;
//! `prefix` non-empty and at most 512 bytes, `suffix` non-empty and at most 128 bytes; only
//! the `created` event; the queue must be a Queue of the stack; and rules of one Storage must
//! not overlap. Each error names the storage, the field path and the offending value.

use std::path::Path;

use indexmap::IndexMap;

use crate::stack::error::StackError;
use crate::stack::model::{
    NOTIFICATION_EVENT_CREATED, Resource, ResourceEntry, Storage, StorageNotification,
};

/// At most this many rules on one Storage (published-3.3.49.md §8).
pub const MAX_STORAGE_NOTIFICATIONS: usize = 10;
/// `prefix` is at most this many bytes (published-3.3.49.md §8).
pub const MAX_NOTIFICATION_PREFIX_BYTES: usize = 512;
/// `suffix` is at most this many bytes (published-3.3.49.md §8).
pub const MAX_NOTIFICATION_SUFFIX_BYTES: usize = 128;

/// Checks the notifications of every Storage of `resources`; the first violation is the error.
pub(crate) fn check_notifications(
    file: &Path,
    resources: &IndexMap<String, ResourceEntry>,
) -> Result<(), StackError> {
    for (id, entry) in resources {
        if let Resource::Storage(storage) = &entry.config {
            check_storage(resources, storage).map_err(|(path, message)| {
                StackError::InvalidResource {
                    file: file.to_path_buf(),
                    resource: id.clone(),
                    resource_type: Some("storage".into()),
                    path,
                    message,
                }
            })?;
        }
    }
    Ok(())
}

/// `(field path, message)` of the first broken rule of one Storage.
type Violation = (String, String);

fn check_storage(
    resources: &IndexMap<String, ResourceEntry>,
    storage: &Storage,
) -> Result<(), Violation> {
    let rules = &storage.notifications;
    if rules.len() > MAX_STORAGE_NOTIFICATIONS {
        return Err((
            "config.notifications".into(),
            format!(
                "a storage holds at most {MAX_STORAGE_NOTIFICATIONS} notifications, found {}",
                rules.len()
            ),
        ));
    }
    for (i, rule) in rules.iter().enumerate() {
        check_rule(resources, rule)
            .map_err(|(field, message)| (format!("config.notifications[{i}].{field}"), message))?;
    }
    for (j, later) in rules.iter().enumerate() {
        if let Some(i) = rules[..j]
            .iter()
            .position(|earlier| overlap(earlier, later))
        {
            return Err((
                format!("config.notifications[{j}]"),
                format!(
                    "notification rules {i} and {j} overlap (prefix {} and {}, suffix {} and {}): \
                     one key could match both",
                    shown(&rules[i].prefix),
                    shown(&later.prefix),
                    shown(&rules[i].suffix),
                    shown(&later.suffix),
                ),
            ));
        }
    }
    Ok(())
}

/// One rule on its own; the path is relative to the rule.
fn check_rule(
    resources: &IndexMap<String, ResourceEntry>,
    rule: &StorageNotification,
) -> Result<(), Violation> {
    check_queue(resources, rule)?;
    if rule.events.is_empty() {
        // [inferred] v1 supports only `created`, so a rule without it could never fire.
        return Err((
            "events".into(),
            format!(
                "`events` must not be empty; v1 supports only \"{NOTIFICATION_EVENT_CREATED}\""
            ),
        ));
    }
    if let Some((k, event)) = rule
        .events
        .iter()
        .enumerate()
        .find(|(_, e)| *e != NOTIFICATION_EVENT_CREATED)
    {
        return Err((
            format!("events[{k}]"),
            format!(
                "unsupported notification event {event:?}; v1 supports only \"{NOTIFICATION_EVENT_CREATED}\""
            ),
        ));
    }
    check_affix("prefix", &rule.prefix, MAX_NOTIFICATION_PREFIX_BYTES)?;
    check_affix("suffix", &rule.suffix, MAX_NOTIFICATION_SUFFIX_BYTES)
}

/// The target is `{type: "queue", id}` naming a Queue resource of the stack.
fn check_queue(
    resources: &IndexMap<String, ResourceEntry>,
    rule: &StorageNotification,
) -> Result<(), Violation> {
    let queue = &rule.queue;
    if queue.resource_type != "queue" {
        return Err((
            "queue.type".into(),
            format!(
                "a notification targets a queue: `type` must be \"queue\", found {:?}",
                queue.resource_type
            ),
        ));
    }
    match resources.get(&queue.id).map(|e| &e.config) {
        Some(Resource::Queue(_)) => Ok(()),
        Some(other) => Err((
            "queue.id".into(),
            format!(
                "notification queue {:?} is a {}, not a queue",
                queue.id,
                other.type_name()
            ),
        )),
        None => Err((
            "queue.id".into(),
            format!(
                "notification queue {:?} does not exist in the stack",
                queue.id
            ),
        )),
    }
}

/// A prefix or suffix, when given, is non-empty and at most `max` bytes.
fn check_affix(field: &str, value: &Option<String>, max: usize) -> Result<(), Violation> {
    match value {
        Some(v) if v.is_empty() => Err((
            field.into(),
            format!("`{field}` must not be empty (omit it to match every key)"),
        )),
        Some(v) if v.len() > max => Err((
            field.into(),
            format!(
                "`{field}` must be at most {max} bytes, found {} bytes: {v:?}",
                v.len()
            ),
        )),
        _ => Ok(()),
    }
}

/// Two rules overlap when one key could match both, as S3 defines it for notification
/// filters: their prefixes overlap (one is absent or a prefix of the other) and so do their
/// suffixes (one is absent or a suffix of the other). Rules of one Storage must not overlap
/// (published-3.3.49.md §8).
fn overlap(a: &StorageNotification, b: &StorageNotification) -> bool {
    let prefixes = match (&a.prefix, &b.prefix) {
        (Some(x), Some(y)) => x.starts_with(y.as_str()) || y.starts_with(x.as_str()),
        _ => true,
    };
    let suffixes = match (&a.suffix, &b.suffix) {
        (Some(x), Some(y)) => x.ends_with(y.as_str()) || y.ends_with(x.as_str()),
        _ => true,
    };
    prefixes && suffixes
}

/// A prefix or suffix for messages: quoted, or `(none)`.
fn shown(value: &Option<String>) -> String {
    value
        .as_ref()
        .map_or_else(|| "(none)".into(), |v| format!("{v:?}"))
}
