//! What a preflight check reports.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding. `code` reuses upstream's error code where one exists; `check` names the
/// upstream check (or ours, for rules upstream does not check); `source` cites the fact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub check: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    pub message: String,
    pub source: &'static str,
}

impl Diagnostic {
    pub fn error(
        code: &'static str,
        check: &'static str,
        resource: Option<&str>,
        message: String,
        source: &'static str,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            check,
            resource: resource.map(str::to_string),
            message,
            source,
        }
    }

    pub fn warning(
        code: &'static str,
        check: &'static str,
        resource: Option<&str>,
        message: String,
        source: &'static str,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            code,
            check,
            resource: resource.map(str::to_string),
            message,
            source,
        }
    }
}
