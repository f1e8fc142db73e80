//! Connection settings and the shared Google Cloud clients.

use google_cloud_auth::credentials::Credentials;
use google_cloud_auth::credentials::anonymous::Builder as Anonymous;
use google_cloud_pubsub::client::{BasePublisher, Subscriber, SubscriptionAdmin, TopicAdmin};
use google_cloud_scheduler_v1::client::CloudScheduler;
use google_cloud_storage::client::Storage;

use super::gcs_json::GcsJson;
use crate::error::{ErrorKind, ProviderError, Result};

/// Location used by [`GcpConfig::for_emulators`] (Cloud Scheduler jobs live under
/// `projects/{p}/locations/{location}`).
const LOCAL_LOCATION: &str = "us-central1";

/// Where the Google Cloud clients connect.
///
/// With `anonymous` the clients send no credentials (what the emulators expect) and a
/// service whose endpoint is `None` gets **no client at all**, so a half-configured local
/// setup can never reach Google's real endpoints; its calls fail with
/// [`ErrorKind::Unavailable`]. Without `anonymous` the clients use Application Default
/// Credentials and `None` means Google's endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcpConfig {
    /// Project id, e.g. `alien-local`.
    pub project: String,
    /// Region for Cloud Scheduler jobs, e.g. `us-central1`.
    pub location: String,
    /// Pub/Sub endpoint (gRPC), e.g. `http://127.0.0.1:8085` for the emulator.
    pub pubsub_endpoint: Option<String>,
    /// Cloud Storage endpoint (JSON API), e.g. `http://127.0.0.1:4443` for fake-gcs-server.
    pub storage_endpoint: Option<String>,
    /// Cloud Scheduler endpoint (HTTP+JSON).
    pub scheduler_endpoint: Option<String>,
    /// Send no credentials; see the type's docs.
    pub anonymous: bool,
}

impl GcpConfig {
    /// Local peers: the Pub/Sub emulator and/or fake-gcs-server at these URLs, anonymous, no
    /// Cloud Scheduler (there is no emulator for it).
    pub fn for_emulators(project: &str, pubsub: Option<&str>, storage: Option<&str>) -> Self {
        GcpConfig {
            project: project.to_owned(),
            location: LOCAL_LOCATION.to_owned(),
            pubsub_endpoint: pubsub.map(str::to_owned),
            storage_endpoint: storage.map(str::to_owned),
            scheduler_endpoint: None,
            anonymous: true,
        }
    }

    /// From the environment: project from `GOOGLE_CLOUD_PROJECT`, location from
    /// `ALIEN_GCP_LOCATION` (default `us-central1`), and the emulator variables Google's
    /// client libraries in other languages honour, `PUBSUB_EMULATOR_HOST` (`host:port`) and
    /// `STORAGE_EMULATOR_HOST` (URL or `host:port`); the Rust crates read neither, so this
    /// does. When either is set the config is anonymous; otherwise it uses Google's endpoints
    /// with Application Default Credentials.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let pubsub = var("PUBSUB_EMULATOR_HOST").map(|host| with_scheme(&host));
        let storage = var("STORAGE_EMULATOR_HOST").map(|host| with_scheme(&host));
        GcpConfig {
            project: var("GOOGLE_CLOUD_PROJECT").unwrap_or_default(),
            location: var("ALIEN_GCP_LOCATION").unwrap_or_else(|| LOCAL_LOCATION.to_owned()),
            anonymous: pubsub.is_some() || storage.is_some(),
            pubsub_endpoint: pubsub,
            storage_endpoint: storage,
            scheduler_endpoint: var("ALIEN_CLOUD_SCHEDULER_ENDPOINT"),
        }
    }
}

/// `host:port` → `http://host:port`; URLs unchanged.
fn with_scheme(host: &str) -> String {
    if host.contains("://") {
        host.to_owned()
    } else {
        format!("http://{host}")
    }
}

/// The Pub/Sub clients of one config.
#[derive(Debug, Clone)]
pub(super) struct PubSubClients {
    pub(super) topics: TopicAdmin,
    pub(super) subscriptions: SubscriptionAdmin,
    pub(super) publishers: BasePublisher,
    pub(super) subscriber: Subscriber,
}

/// The Cloud Storage clients of one config.
#[derive(Debug, Clone)]
pub(super) struct StorageClients {
    pub(super) objects: Storage,
    /// The JSON API calls the crate has no HTTP form of.
    pub(super) json: GcsJson,
}

/// The Pub/Sub, Cloud Storage and Cloud Scheduler clients of one [`GcpConfig`]; provisions
/// resources and hands out provider handles bound to them.
#[derive(Debug, Clone)]
pub struct GcpClients {
    pub(super) project: String,
    pub(super) location: String,
    pub(super) pubsub: Option<PubSubClients>,
    pub(super) storage: Option<StorageClients>,
    pub(super) scheduler: Option<CloudScheduler>,
}

/// Applies the endpoint and credentials of `config` to a client builder.
macro_rules! configure {
    ($builder:expr, $endpoint:expr, $credentials:expr) => {{
        let mut builder = $builder;
        if let Some(endpoint) = $endpoint {
            builder = builder.with_endpoint(endpoint.clone());
        }
        if let Some(credentials) = $credentials.clone() {
            builder = builder.with_credentials(credentials);
        }
        builder
    }};
}

impl GcpClients {
    /// Builds the clients of every service `config` enables (see [`GcpConfig`]). Nothing is
    /// contacted yet; Google's clients connect lazily.
    pub async fn new(config: &GcpConfig) -> Result<GcpClients> {
        let credentials: Option<Credentials> = config.anonymous.then(|| Anonymous::new().build());
        let enabled = |endpoint: &Option<String>| !config.anonymous || endpoint.is_some();
        let pubsub = if enabled(&config.pubsub_endpoint) {
            let endpoint = &config.pubsub_endpoint;
            Some(PubSubClients {
                topics: configure!(TopicAdmin::builder(), endpoint, credentials)
                    .build()
                    .await
                    .map_err(build_error("Pub/Sub topic admin"))?,
                subscriptions: configure!(SubscriptionAdmin::builder(), endpoint, credentials)
                    .build()
                    .await
                    .map_err(build_error("Pub/Sub subscription admin"))?,
                publishers: configure!(BasePublisher::builder(), endpoint, credentials)
                    .build()
                    .await
                    .map_err(build_error("Pub/Sub publisher"))?,
                subscriber: configure!(Subscriber::builder(), endpoint, credentials)
                    .build()
                    .await
                    .map_err(build_error("Pub/Sub subscriber"))?,
            })
        } else {
            None
        };
        let storage = if enabled(&config.storage_endpoint) {
            let endpoint = &config.storage_endpoint;
            Some(StorageClients {
                objects: configure!(Storage::builder(), endpoint, credentials)
                    .build()
                    .await
                    .map_err(build_error("Cloud Storage"))?,
                json: GcsJson::new(endpoint.as_deref(), config.anonymous)?,
            })
        } else {
            None
        };
        let scheduler = if enabled(&config.scheduler_endpoint) {
            let endpoint = &config.scheduler_endpoint;
            Some(
                configure!(CloudScheduler::builder(), endpoint, credentials)
                    .build()
                    .await
                    .map_err(build_error("Cloud Scheduler"))?,
            )
        } else {
            None
        };
        Ok(GcpClients {
            project: config.project.clone(),
            location: config.location.clone(),
            pubsub,
            storage,
            scheduler,
        })
    }

    pub(super) fn pubsub(&self) -> Result<&PubSubClients> {
        self.pubsub
            .as_ref()
            .ok_or_else(|| not_configured("Pub/Sub"))
    }

    pub(super) fn storage(&self) -> Result<&StorageClients> {
        self.storage
            .as_ref()
            .ok_or_else(|| not_configured("Cloud Storage"))
    }

    /// `projects/{project}/topics/{id}`.
    pub(super) fn topic_path(&self, id: &str) -> String {
        format!("projects/{}/topics/{id}", self.project)
    }

    /// `projects/{project}/subscriptions/{id}`.
    pub(super) fn subscription_path(&self, id: &str) -> String {
        format!("projects/{}/subscriptions/{id}", self.project)
    }
}

fn not_configured(service: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Unavailable,
        format!("{service}: no endpoint configured for this anonymous (emulator) GcpConfig"),
    )
}

fn build_error<E>(client: &'static str) -> impl Fn(E) -> ProviderError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| {
        ProviderError::new(
            ErrorKind::Internal,
            format!("building the {client} client failed: {e}"),
        )
        .with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_emulators_is_anonymous_without_scheduler() {
        let config = GcpConfig::for_emulators("p", Some("http://127.0.0.1:8085"), None);
        assert_eq!(
            config,
            GcpConfig {
                project: "p".into(),
                location: "us-central1".into(),
                pubsub_endpoint: Some("http://127.0.0.1:8085".into()),
                storage_endpoint: None,
                scheduler_endpoint: None,
                anonymous: true,
            }
        );
    }

    // PUBSUB_EMULATOR_HOST is host:port (Pub/Sub emulator docs); URLs pass unchanged.
    #[test]
    fn emulator_hosts_get_a_scheme() {
        assert_eq!(with_scheme("127.0.0.1:8085"), "http://127.0.0.1:8085");
        assert_eq!(
            with_scheme("http://127.0.0.1:4443"),
            "http://127.0.0.1:4443"
        );
    }
}
