//! The deployment targets Alien knows (`crates/alien-core/src/platform.rs`, reference
//! upstream-stack-and-limits.md §2.1). JSON is lowercase; parsing is case-insensitive.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A deployment target. `machines` and `test` exist upstream but are not emulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Aws,
    Gcp,
    Azure,
    Kubernetes,
    Local,
    Machines,
    Test,
}

impl Platform {
    /// The five platforms the emulator has profiles for, in display order.
    pub const EMULATED: [Platform; 5] = [
        Platform::Aws,
        Platform::Gcp,
        Platform::Azure,
        Platform::Kubernetes,
        Platform::Local,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Aws => "aws",
            Platform::Gcp => "gcp",
            Platform::Azure => "azure",
            Platform::Kubernetes => "kubernetes",
            Platform::Local => "local",
            Platform::Machines => "machines",
            Platform::Test => "test",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Upstream's error text: "'{s}' is not a valid platform".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a valid platform")]
pub struct InvalidPlatform(pub String);

impl FromStr for Platform {
    type Err = InvalidPlatform;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "aws" => Ok(Platform::Aws),
            "gcp" => Ok(Platform::Gcp),
            "azure" => Ok(Platform::Azure),
            "kubernetes" => Ok(Platform::Kubernetes),
            "local" => Ok(Platform::Local),
            "machines" => Ok(Platform::Machines),
            "test" => Ok(Platform::Test),
            _ => Err(InvalidPlatform(s.to_string())),
        }
    }
}
