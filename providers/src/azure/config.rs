//! Connection settings for Blob Storage and Service Bus.

use std::fmt;

use crate::error::{ProviderError, Result};

/// Azurite's well-known development account (Azurite README, "Default storage account").
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// The documented key of [`AZURITE_ACCOUNT`]; public, not a secret.
pub const AZURITE_ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Where and as whom the Azure clients connect.
#[derive(Clone, PartialEq, Eq)]
pub struct AzureConfig {
    /// Blob service endpoint: `https://{account}.blob.core.windows.net` or, path style,
    /// `http://127.0.0.1:10000/devstoreaccount1` (Azurite).
    pub blob_endpoint: String,
    /// Storage account name (signs the account SAS).
    pub account: String,
    /// Storage account key, base64 as the portal shows it.
    pub account_key: String,
    /// Service Bus namespace and SAS policy; `None` when only Blob Storage is used.
    pub service_bus: Option<ServiceBusConfig>,
}

/// A Service Bus namespace reached over its REST API with a shared access policy.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceBusConfig {
    /// Namespace URL, `https://{namespace}.servicebus.windows.net`; tests point it at a local
    /// server.
    pub endpoint: String,
    /// Shared access policy name, e.g. `RootManageSharedAccessKey`.
    pub policy_name: String,
    /// The policy's key as the portal shows it (used as text, not base64-decoded).
    pub policy_key: String,
}

impl AzureConfig {
    /// Azurite's blob endpoint `url` (including the account path, e.g.
    /// `http://127.0.0.1:10000/devstoreaccount1`) with the well-known dev account.
    pub fn for_azurite(url: &str) -> AzureConfig {
        AzureConfig {
            blob_endpoint: url.trim_end_matches('/').to_owned(),
            account: AZURITE_ACCOUNT.to_owned(),
            account_key: AZURITE_ACCOUNT_KEY.to_owned(),
            service_bus: None,
        }
    }

    /// From the environment: `AZURE_STORAGE_ACCOUNT` and `AZURE_STORAGE_KEY` (required),
    /// `AZURE_STORAGE_BLOB_ENDPOINT` (default `https://{account}.blob.core.windows.net`), and,
    /// when `AZURE_SERVICEBUS_ENDPOINT` or `AZURE_SERVICEBUS_NAMESPACE` is set,
    /// `AZURE_SERVICEBUS_POLICY_NAME` (default `RootManageSharedAccessKey`) and
    /// `AZURE_SERVICEBUS_POLICY_KEY`.
    pub fn from_env() -> Result<AzureConfig> {
        let account = required("AZURE_STORAGE_ACCOUNT")?;
        let account_key = required("AZURE_STORAGE_KEY")?;
        let blob_endpoint = optional("AZURE_STORAGE_BLOB_ENDPOINT")
            .unwrap_or_else(|| format!("https://{account}.blob.core.windows.net"));
        let sb_endpoint = optional("AZURE_SERVICEBUS_ENDPOINT").or_else(|| {
            optional("AZURE_SERVICEBUS_NAMESPACE")
                .map(|ns| format!("https://{ns}.servicebus.windows.net"))
        });
        let service_bus = match sb_endpoint {
            Some(endpoint) => Some(ServiceBusConfig {
                endpoint: endpoint.trim_end_matches('/').to_owned(),
                policy_name: optional("AZURE_SERVICEBUS_POLICY_NAME")
                    .unwrap_or_else(|| "RootManageSharedAccessKey".to_owned()),
                policy_key: required("AZURE_SERVICEBUS_POLICY_KEY")?,
            }),
            None => None,
        };
        Ok(AzureConfig {
            blob_endpoint: blob_endpoint.trim_end_matches('/').to_owned(),
            account,
            account_key,
            service_bus,
        })
    }

    /// Adds a Service Bus namespace.
    pub fn with_service_bus(mut self, service_bus: ServiceBusConfig) -> AzureConfig {
        self.service_bus = Some(service_bus);
        self
    }
}

impl ServiceBusConfig {
    /// Namespace `namespace` (`https://{namespace}.servicebus.windows.net`) with a policy.
    pub fn for_namespace(namespace: &str, policy_name: &str, policy_key: &str) -> Self {
        ServiceBusConfig {
            endpoint: format!("https://{namespace}.servicebus.windows.net"),
            policy_name: policy_name.to_owned(),
            policy_key: policy_key.to_owned(),
        }
    }
}

fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn required(name: &str) -> Result<String> {
    optional(name).ok_or_else(|| {
        ProviderError::invalid_argument(format!("environment variable {name} is not set"))
    })
}

/// Redacts the account key.
impl fmt::Debug for AzureConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureConfig")
            .field("blob_endpoint", &self.blob_endpoint)
            .field("account", &self.account)
            .field("account_key", &"<redacted>")
            .field("service_bus", &self.service_bus)
            .finish()
    }
}

/// Redacts the policy key.
impl fmt::Debug for ServiceBusConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceBusConfig")
            .field("endpoint", &self.endpoint)
            .field("policy_name", &self.policy_name)
            .field("policy_key", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_azurite_uses_the_dev_account() {
        let config = AzureConfig::for_azurite("http://127.0.0.1:10000/devstoreaccount1/");
        assert_eq!(
            config.blob_endpoint,
            "http://127.0.0.1:10000/devstoreaccount1"
        );
        assert_eq!(config.account, "devstoreaccount1");
        assert!(config.service_bus.is_none());
    }

    #[test]
    fn debug_redacts_keys() {
        let config = AzureConfig::for_azurite("http://127.0.0.1:1/a")
            .with_service_bus(ServiceBusConfig::for_namespace("ns", "policy", "sb-s3cr3t"));
        let text = format!("{config:?}");
        assert!(!text.contains(AZURITE_ACCOUNT_KEY) && !text.contains("sb-s3cr3t"));
        assert!(text.contains("https://ns.servicebus.windows.net"));
    }
}
