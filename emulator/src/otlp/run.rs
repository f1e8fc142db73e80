//! [`RunIdentity`]: the run a batch of spans comes from, as the OTLP resource and as the
//! salt of the span ids.

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::Resource;

use super::ids::RunKey;
use crate::Platform;

/// `service.name` of every exported resource.
pub const SERVICE_NAME: &str = "alien-emulator";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunIdentity {
    pub stack_id: String,
    pub platform: Platform,
    pub seed: u64,
    /// `alien simulate`: the scenario's name.
    pub scenario: Option<String>,
}

impl RunIdentity {
    /// Salt of the run's trace and span ids.
    pub fn key(&self) -> RunKey {
        let seed = self.seed.to_string();
        RunKey::new(&[
            &self.stack_id,
            self.platform.as_str(),
            &seed,
            self.scenario.as_deref().unwrap_or(""),
        ])
    }

    /// `service.name`, `alien.platform`, `alien.stack.id`, `alien.seed` and, for a
    /// scenario run, `alien.scenario`. Built without the SDK's detectors, so the same run
    /// always has the same resource.
    pub fn resource(&self) -> Resource {
        let seed = i64::try_from(self.seed)
            .map_or_else(|_| Value::from(self.seed.to_string()), Value::from);
        let mut attributes = vec![
            KeyValue::new("alien.platform", self.platform.as_str()),
            KeyValue::new("alien.stack.id", self.stack_id.clone()),
            KeyValue::new("alien.seed", seed),
        ];
        if let Some(scenario) = &self.scenario {
            attributes.push(KeyValue::new("alien.scenario", scenario.clone()));
        }
        Resource::builder_empty()
            .with_service_name(SERVICE_NAME)
            .with_attributes(attributes)
            .build()
    }
}
