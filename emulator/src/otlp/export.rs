//! [`OtlpExporter`]: spans to an OTLP/HTTP endpoint (protobuf body, `POST` to the URL as
//! given, e.g. `http://127.0.0.1:4318/v1/traces`) through `opentelemetry-otlp`'s exporter.
//! OTLP/HTTP: <https://opentelemetry.io/docs/specs/otlp/#otlphttp>.

use std::time::Duration;

use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};

use super::run::RunIdentity;

/// Most spans per request (the SDK batch processor's default `max_export_batch_size`).
pub const MAX_BATCH: usize = 512;

/// How long one request may take, retries included (the exporter's default).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error("{value}: {reason}")]
    InvalidEndpoint { value: String, reason: String },
    #[error("cannot build the OTLP exporter for {endpoint}: {reason}")]
    Build { endpoint: String, reason: String },
    #[error("exporting {spans} spans to {endpoint} failed: {reason}")]
    Export {
        endpoint: String,
        spans: usize,
        reason: String,
    },
}

/// A checked `http://` or `https://` URL with a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint(String);

impl Endpoint {
    pub fn parse(value: &str) -> Result<Endpoint, OtlpError> {
        let invalid = |reason: String| OtlpError::InvalidEndpoint {
            value: value.to_string(),
            reason,
        };
        let url = reqwest::Url::parse(value).map_err(|e| invalid(format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "scheme '{}' is not http or https (OTLP/HTTP)",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("no host".into()));
        }
        Ok(Endpoint(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Sends spans over OTLP/HTTP; needs a Tokio runtime to export.
#[derive(Debug)]
pub struct OtlpExporter {
    inner: opentelemetry_otlp::SpanExporter,
    endpoint: Endpoint,
}

impl OtlpExporter {
    pub fn new(endpoint: &Endpoint) -> Result<OtlpExporter, OtlpError> {
        let inner = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(endpoint.as_str())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| OtlpError::Build {
                endpoint: endpoint.as_str().to_string(),
                reason: e.to_string(),
            })?;
        Ok(OtlpExporter {
            inner,
            endpoint: endpoint.clone(),
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Exports `spans` of `run`, [`MAX_BATCH`] per request; stops at the first failure.
    pub async fn export(
        &mut self,
        run: &RunIdentity,
        mut spans: Vec<SpanData>,
    ) -> Result<(), OtlpError> {
        if spans.is_empty() {
            return Ok(());
        }
        self.inner.set_resource(&run.resource());
        while !spans.is_empty() {
            let rest = spans.split_off(spans.len().min(MAX_BATCH));
            let count = spans.len();
            self.inner
                .export(spans)
                .await
                .map_err(|e| OtlpError::Export {
                    endpoint: self.endpoint.as_str().to_string(),
                    spans: count,
                    reason: e.to_string(),
                })?;
            spans = rest;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_http_urls_with_a_host() {
        assert!(Endpoint::parse("http://127.0.0.1:4318/v1/traces").is_ok());
        assert!(Endpoint::parse("https://collector.example/v1/traces").is_ok());
        for bad in [
            "127.0.0.1:4318",
            "not a url",
            "ftp://host/v1/traces",
            "http://",
        ] {
            let err = Endpoint::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with(&format!("{bad}: ")), "{err}");
        }
    }
}
