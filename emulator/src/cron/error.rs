//! The one error type every cron dialect returns.

/// A cron expression that a platform would refuse.
///
/// The display text is upstream's controller / Local wording, "Invalid cron expression
/// '{cron}': {reason}" (upstream-stack-and-limits.md §4.2 (e) and §4.3, Local scheduler).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid cron expression '{expr}': {message}")]
pub struct CronError {
    /// The expression as the user wrote it.
    pub expr: String,
    /// Why it was refused (for `crontab_to_eventbridge`, upstream's exact text).
    pub message: String,
}

impl CronError {
    pub(crate) fn new(expr: &str, message: impl Into<String>) -> Self {
        CronError {
            expr: expr.to_string(),
            message: message.into(),
        }
    }
}
