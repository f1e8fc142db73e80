//! Azure adapter (feature `azure`): Blob Storage through the official `azure_storage_blob`
//! 1.x SDK (Azurite locally) and Service Bus queues through Service Bus's REST API.
//!
//! | Trait | Azure service | Type |
//! |---|---|---|
//! | [`StorageProvider`](crate::StorageProvider) | Blob Storage container | [`AzureStorage`] |
//! | [`QueueProvider`](crate::QueueProvider) | Service Bus queue (peek-lock) | [`ServiceBusQueue`] |
//!
//! Start from an [`AzureConfig`] ([`AzureConfig::for_azurite`] for a local peer,
//! [`AzureConfig::from_env`] otherwise), build [`AzureClients`], then provision
//! ([`AzureClients::create_container`], [`AzureClients::create_service_bus_queue`]) or bind
//! resources through it. Blob failures become [`crate::ProviderError`]s in
//! [`map_blob_error`], Service Bus failures in [`map_service_bus_error`].
//!
//! Authentication: the blob SDK 1.x offers only Entra ID tokens, so requests carry an
//! account SAS signed here from the account key; Service Bus requests carry a SAS token
//! signed per request from the namespace policy key.

mod blob_error;
mod clients;
mod config;
mod sas;
mod sb_admin;
mod sb_error;
mod sb_queue;
mod sb_rest;
mod storage;

pub use blob_error::map_blob_error;
pub use clients::AzureClients;
pub use config::{AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY, AzureConfig, ServiceBusConfig};
pub use sb_admin::{
    DEFAULT_LOCK_DURATION, MANAGEMENT_API_VERSION, QueueDescription, ServiceBusQueueSpec,
};
pub use sb_error::{ServiceBusFailure, ServiceBusOp, map_service_bus_error};
pub use sb_queue::ServiceBusQueue;
pub use storage::AzureStorage;
