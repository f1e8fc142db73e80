//! Azurite as a conformance target through the Azure adapter (`alien_providers::azure`):
//! Blob Storage only. Service Bus has no emulator that runs without Docker; its requests
//! are checked against recorded responses (providers/tests/azure_servicebus*.rs).

use std::time::Duration;

use alien_providers::Result;
use alien_providers::azure::{AzureClients, AzureConfig, AzureStorage};

use super::{NoProvider, Resource, Target};
use crate::Platform;

const NO_SERVICE_BUS: &str = "Azurite has no Service Bus, and Microsoft's Service Bus emulator needs Docker and speaks AMQP; the adapter's REST requests are checked against recorded responses (providers/tests/azure_servicebus*.rs)";
const NO_EMULATOR: &str = "Azurite emulates Blob, Queue and Table Storage only";

pub struct AzureTarget {
    clients: AzureClients,
}

impl AzureTarget {
    /// Azurite's blob endpoint, e.g. `http://127.0.0.1:10000/devstoreaccount1`.
    pub fn azurite(blob_url: &str) -> Result<AzureTarget> {
        Ok(AzureTarget {
            clients: AzureClients::new(&AzureConfig::for_azurite(blob_url))?,
        })
    }
}

impl Target for AzureTarget {
    type Queue = NoProvider;
    type Storage = AzureStorage;
    type Schedules = NoProvider;
    type Workers = NoProvider;
    type Kv = NoProvider;
    type Daemons = NoProvider;

    fn name(&self) -> &str {
        "azurite"
    }

    fn platform(&self) -> Platform {
        Platform::Azure
    }

    fn lacks(&self, resource: Resource) -> String {
        match resource {
            Resource::Queue | Resource::Notifications => NO_SERVICE_BUS.into(),
            Resource::Schedules => {
                "Dapr's cron binding runs inside the app's sidecar; no Azure API registers it"
                    .into()
            }
            Resource::Workers | Resource::DeployedWorker => NO_EMULATOR.into(),
            Resource::Kv => "the Azure adapter has no Table Storage KV yet".into(),
            Resource::Daemons => {
                "Azure has no daemon controller (upstream-cloud-semantics.md §7)".into()
            }
            Resource::Push => "Service Bus is read with peek-lock, not pushed".into(),
            Resource::Storage => format!("the Azure adapter has no {resource:?}"),
        }
    }

    async fn storage(&self, name: &str) -> Result<AzureStorage> {
        self.clients.create_container(name).await
    }

    async fn changing_storage(&self, name: &str) -> Result<AzureStorage> {
        self.clients.create_container(name).await
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}
