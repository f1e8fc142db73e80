//! Platform profiles: one data table per platform, every value with its source, some values
//! dated. Engine and preflight code ask the profile; they never branch on a platform's name.
//!
//! A profile is selected with a spec such as `aws` (limits in force today) or `aws@2025-06`
//! (limits in force on 2025-06-01).

mod aws;
mod azure;
mod common;
mod gcp;
mod kubernetes;
mod limits;
mod local;
mod model;
mod value;

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde_json::Value;

pub use azure::AZURE_MEMORY_STEPS;
pub use limits::*;
pub use model::*;
pub use value::{Sourced, dated, src, ymd};

use crate::platform::Platform;

impl Profile {
    /// The profile of `platform` with the limits in force on `as_of`.
    pub fn new(platform: Platform, as_of: NaiveDate) -> Option<Profile> {
        Some(match platform {
            Platform::Aws => aws::profile(as_of),
            Platform::Gcp => gcp::profile(as_of),
            Platform::Azure => azure::profile(as_of),
            Platform::Kubernetes => kubernetes::profile(as_of),
            Platform::Local => local::profile(as_of),
            Platform::Machines | Platform::Test => return None,
        })
    }

    /// Every value of the profile as a flat list of (path, value, source, since) rows.
    pub fn values(&self) -> Vec<ProfileValue> {
        let tree = serde_json::to_value(self).expect("profiles serialize");
        let mut rows = Vec::new();
        if let Value::Object(map) = tree {
            for (key, child) in map {
                if key != "platform" && key != "as_of" {
                    collect(&key, &child, &mut rows);
                }
            }
        }
        rows
    }
}

/// One profile value with where it comes from.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProfileValue {
    pub path: String,
    pub value: Value,
    pub source: String,
    pub since: Option<String>,
}

/// Walks the serialized profile; a `Sourced` leaf is an object holding `value` and `source`.
/// Anything else that is not an object of further values is recorded with an empty source,
/// so a value added without a source shows up (and fails the profile tests).
fn collect(path: &str, node: &Value, rows: &mut Vec<ProfileValue>) {
    match node {
        Value::Object(map) if map.contains_key("source") && map.contains_key("value") => {
            rows.push(ProfileValue {
                path: path.to_string(),
                value: map["value"].clone(),
                source: map["source"].as_str().unwrap_or_default().to_string(),
                since: map.get("since").and_then(Value::as_str).map(str::to_string),
            });
        }
        Value::Object(map) => {
            for (key, child) in map {
                collect(&format!("{path}.{key}"), child, rows);
            }
        }
        other => rows.push(ProfileValue {
            path: path.to_string(),
            value: other.clone(),
            source: String::new(),
            since: None,
        }),
    }
}

/// `aws`, `aws@2025-06` or `aws@2025-06-15`: a platform and the day whose limits apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileSpec {
    pub platform: Platform,
    /// None = today.
    pub as_of: Option<NaiveDate>,
}

impl ProfileSpec {
    /// The profile for this spec, `today` standing in for an undated spec.
    pub fn resolve(&self, today: NaiveDate) -> Result<Profile, ProfileSpecError> {
        Profile::new(self.platform, self.as_of.unwrap_or(today))
            .ok_or(ProfileSpecError::NotEmulated(self.platform))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileSpecError {
    #[error("{0}")]
    Platform(#[from] crate::platform::InvalidPlatform),
    #[error("invalid date '{0}' in profile spec: expected YYYY-MM or YYYY-MM-DD")]
    Date(String),
    #[error(
        "platform '{0}' has no emulation profile; expected one of aws, gcp, azure, kubernetes, local"
    )]
    NotEmulated(Platform),
}

impl FromStr for ProfileSpec {
    type Err = ProfileSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, date) = match s.split_once('@') {
            Some((name, date)) => (name, Some(date)),
            None => (s, None),
        };
        let platform: Platform = name.parse()?;
        if !Platform::EMULATED.contains(&platform) {
            return Err(ProfileSpecError::NotEmulated(platform));
        }
        let as_of = date
            .map(|d| {
                NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .or_else(|_| NaiveDate::parse_from_str(&format!("{d}-01"), "%Y-%m-%d"))
                    .map_err(|_| ProfileSpecError::Date(d.to_string()))
            })
            .transpose()?;
        Ok(ProfileSpec { platform, as_of })
    }
}

impl fmt::Display for ProfileSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_of {
            Some(date) => write!(f, "{}@{}", self.platform, date),
            None => write!(f, "{}", self.platform),
        }
    }
}

#[cfg(test)]
mod tests;
