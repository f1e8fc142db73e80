//! Connection settings and the shared SDK clients.

use std::fmt;

use aws_config::BehaviorVersion;
use aws_sdk_sqs::config::{Credentials, Region};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// Region used by [`AwsConfig::for_endpoint`]; moto and LocalStack default to it.
const LOCAL_REGION: &str = "us-east-1";

/// Where and as whom the AWS clients connect.
///
/// An empty `region` or `access_key_id` leaves that setting to the SDK's default chain
/// (environment, shared config files, web identity, container and instance metadata), resolved
/// by [`AwsClients::new`].
#[derive(Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// Endpoint for every service (moto, LocalStack); `None` uses the AWS endpoints. S3 then
    /// uses path-style addressing, which local peers need.
    pub endpoint: Option<String>,
    /// AWS region, e.g. `us-east-1`; empty: the SDK's region chain.
    pub region: String,
    /// Static access key id; empty: the SDK's credential chain.
    pub access_key_id: String,
    /// Static secret access key, used with `access_key_id`.
    pub secret_access_key: String,
}

impl AwsConfig {
    /// A local peer at `url` (moto, LocalStack): static `test`/`test` credentials, region
    /// `us-east-1`.
    pub fn for_endpoint(url: &str) -> AwsConfig {
        AwsConfig {
            endpoint: Some(url.to_owned()),
            region: LOCAL_REGION.to_owned(),
            access_key_id: "test".to_owned(),
            secret_access_key: "test".to_owned(),
        }
    }

    /// The SDK's default chain for region and credentials, with the endpoint from
    /// `AWS_ENDPOINT_URL` when that is set and not empty.
    pub fn from_env() -> AwsConfig {
        AwsConfig {
            endpoint: std::env::var("AWS_ENDPOINT_URL")
                .ok()
                .filter(|url| !url.is_empty()),
            region: String::new(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
        }
    }
}

/// Redacts the secret key.
impl fmt::Debug for AwsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// The SQS, S3, EventBridge and Lambda clients of one [`AwsConfig`]; provisions resources
/// and hands out provider handles bound to them.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub(super) sqs: aws_sdk_sqs::Client,
    pub(super) s3: aws_sdk_s3::Client,
    pub(super) eventbridge: aws_sdk_eventbridge::Client,
    pub(super) lambda: aws_sdk_lambda::Client,
}

impl AwsClients {
    /// Builds the clients, resolving the SDK's default chain for any setting `config` leaves
    /// empty. HTTPS goes through rustls with the ring provider; the SDK's standard retry
    /// policy applies (3 attempts for throttling and transient errors).
    pub async fn new(config: &AwsConfig) -> AwsClients {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
        if !config.region.is_empty() {
            loader = loader.region(Region::new(config.region.clone()));
        }
        if !config.access_key_id.is_empty() {
            loader = loader.credentials_provider(Credentials::new(
                config.access_key_id.clone(),
                config.secret_access_key.clone(),
                None,
                None,
                "alien-providers",
            ));
        }
        if let Some(endpoint) = &config.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let shared = loader.load().await;
        let s3 = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(config.endpoint.is_some())
            .build();
        AwsClients {
            sqs: aws_sdk_sqs::Client::new(&shared),
            s3: aws_sdk_s3::Client::from_conf(s3),
            eventbridge: aws_sdk_eventbridge::Client::new(&shared),
            lambda: aws_sdk_lambda::Client::new(&shared),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_endpoint_uses_static_test_credentials() {
        let config = AwsConfig::for_endpoint("http://127.0.0.1:5000");
        assert_eq!(config.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(
            (
                config.region.as_str(),
                config.access_key_id.as_str(),
                config.secret_access_key.as_str()
            ),
            ("us-east-1", "test", "test")
        );
    }

    #[test]
    fn debug_redacts_the_secret() {
        let config = AwsConfig {
            secret_access_key: "s3cr3t".into(),
            ..AwsConfig::for_endpoint("http://127.0.0.1:1")
        };
        assert!(!format!("{config:?}").contains("s3cr3t"));
    }
}
