//! Azurite as a conformance target through the Azure adapter (`alien_providers::azure`):
//! Blob Storage only. Service Bus has no emulator that runs without Docker; its requests
//! are checked against recorded responses (providers/tests/azure_servicebus*.rs).

use std::time::Duration;

use alien_providers::azure::{AzureClients, AzureConfig, AzureStorage};
use alien_providers::{QueueMessage, Result};

use super::{KeyRule, NoProvider, PushSeen, QueueSetup, Receiver, Target, unsupported};
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

    async fn queue(&self, _setup: &QueueSetup) -> Result<NoProvider> {
        unsupported(NO_SERVICE_BUS)
    }

    async fn dead_letters(&self, queue: &NoProvider) -> Result<Vec<QueueMessage>> {
        match *queue {}
    }

    async fn storage(&self, name: &str) -> Result<AzureStorage> {
        self.clients.create_container(name).await
    }

    async fn changing_storage(&self, name: &str) -> Result<AzureStorage> {
        self.clients.create_container(name).await
    }

    async fn notifying_storage(
        &self,
        _name: &str,
        _queue: &QueueSetup,
        _rule: &KeyRule,
    ) -> Result<(AzureStorage, NoProvider)> {
        unsupported(NO_SERVICE_BUS)
    }

    async fn schedules(&self) -> Result<NoProvider> {
        unsupported("Dapr's cron binding runs inside the app's sidecar; no Azure API registers it")
    }

    async fn workers(&self) -> Result<NoProvider> {
        unsupported(NO_EMULATOR)
    }

    async fn deployed_worker(&self) -> Result<(NoProvider, String)> {
        unsupported(NO_EMULATOR)
    }

    async fn kv(&self, _name: &str) -> Result<NoProvider> {
        unsupported("the Azure adapter has no Table Storage KV yet")
    }

    async fn daemons(&self) -> Result<(NoProvider, String)> {
        unsupported("Azure has no daemon controller (upstream-cloud-semantics.md §7)")
    }

    async fn push(
        &self,
        _run_id: &str,
        _receiver: Receiver,
        _window: Duration,
    ) -> Result<Vec<PushSeen>> {
        unsupported("Service Bus is read with peek-lock, not pushed")
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}
