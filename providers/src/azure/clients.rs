//! The shared clients of one [`AzureConfig`].

use std::sync::Arc;

use azure_core::http::{HttpClient, Url, new_http_client};
use azure_storage_blob::{BlobContainerClient, BlobContainerClientOptions};
use chrono::{Duration as ChronoDuration, Utc};

use super::config::{AzureConfig, ServiceBusConfig};
use super::sas::account_sas;
use crate::error::{ProviderError, Result};

/// How long the account SAS signed by [`AzureClients::new`] stays valid.
const SAS_VALIDITY_HOURS: i64 = 24;

/// Blob Storage and Service Bus access for one [`AzureConfig`]; provisions containers and
/// queues and hands out provider handles bound to them.
///
/// Blob requests carry an account SAS signed once by [`AzureClients::new`] and valid for
/// 24 hours; build new clients for longer runs. Service Bus requests carry a SAS token signed
/// per request.
#[derive(Clone)]
pub struct AzureClients {
    pub(super) blob_endpoint: Url,
    pub(super) blob_sas: String,
    pub(super) service_bus: Option<ServiceBusHandle>,
}

/// The Service Bus namespace and the HTTP client that reaches it.
#[derive(Clone)]
pub(super) struct ServiceBusHandle {
    pub(super) http: Arc<dyn HttpClient>,
    pub(super) config: ServiceBusConfig,
}

impl AzureClients {
    /// Validates `config`, signs the account SAS and builds the HTTP client.
    pub fn new(config: &AzureConfig) -> Result<AzureClients> {
        let blob_endpoint = parse_base_url("blob_endpoint", &config.blob_endpoint)?;
        let expiry = Utc::now() + ChronoDuration::hours(SAS_VALIDITY_HOURS);
        let blob_sas = account_sas(&config.account, &config.account_key, expiry)?;
        let service_bus = match &config.service_bus {
            Some(sb) => {
                parse_base_url("service_bus.endpoint", &sb.endpoint)?;
                Some(ServiceBusHandle {
                    http: new_http_client(None),
                    config: ServiceBusConfig {
                        endpoint: sb.endpoint.trim_end_matches('/').to_owned(),
                        ..sb.clone()
                    },
                })
            }
            None => None,
        };
        Ok(AzureClients {
            blob_endpoint,
            blob_sas,
            service_bus,
        })
    }

    /// A container client for `name` with the SAS in its URL (the SDK keeps the query when it
    /// appends blob names and operation parameters).
    pub(super) fn container_client(&self, name: &str) -> Result<BlobContainerClient> {
        let mut url = self.blob_endpoint.clone();
        url.path_segments_mut()
            .map_err(|()| ProviderError::invalid_argument("blob endpoint cannot be a base URL"))?
            .pop_if_empty()
            .push(name);
        url.set_query(Some(&self.blob_sas));
        BlobContainerClient::new(url, None, Some(BlobContainerClientOptions::default()))
            .map_err(|e| super::blob_error::map_blob_error("CreateClient", None, e))
    }

    /// The Service Bus handle, or `InvalidArgument` when the config has none.
    pub(super) fn service_bus(&self) -> Result<&ServiceBusHandle> {
        self.service_bus.as_ref().ok_or_else(|| {
            ProviderError::invalid_argument("AzureConfig has no service_bus section")
        })
    }
}

fn parse_base_url(field: &str, value: &str) -> Result<Url> {
    let url = Url::parse(value).map_err(|e| {
        ProviderError::invalid_argument(format!("{field} '{value}' is not a URL")).with_source(e)
    })?;
    if url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
        return Err(ProviderError::invalid_argument(format!(
            "{field} '{value}' is not an http(s) base URL"
        )));
    }
    Ok(url)
}

impl std::fmt::Debug for AzureClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureClients")
            .field("blob_endpoint", &self.blob_endpoint.as_str())
            .field(
                "service_bus",
                &self.service_bus.as_ref().map(|sb| &sb.config.endpoint),
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_url_keeps_the_account_path_and_the_sas() {
        let clients = AzureClients::new(&AzureConfig::for_azurite(
            "http://127.0.0.1:10000/devstoreaccount1",
        ))
        .expect("clients");
        let client = clients.container_client("photos").expect("client");
        assert_eq!(client.url().path(), "/devstoreaccount1/photos");
        assert!(client.url().query().is_some_and(|q| q.contains("sig=")));
    }

    #[test]
    fn non_url_endpoint_is_invalid_argument() {
        let err = AzureClients::new(&AzureConfig::for_azurite("not a url")).expect_err("fails");
        assert_eq!(err.kind, crate::ErrorKind::InvalidArgument);
    }
}
