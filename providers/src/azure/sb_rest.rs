//! Signed HTTP calls to a Service Bus namespace's REST API.
//!
//! `azure_messaging_servicebus` 0.21 takes an `azure_core` 0.21 `HttpClient`, a type this
//! crate cannot name (it depends on `azure_core` 1.1 only), and builds every URL as
//! `https://{namespace}.servicebus.windows.net`, so the adapter sends the same documented REST
//! requests itself over `azure_core` 1.1's HTTP client.

use azure_core::Bytes;
use azure_core::http::headers::Headers;
use azure_core::http::{Method, Request, Url};

use super::clients::ServiceBusHandle;
use super::sas::service_bus_token;
use super::sb_error::{ServiceBusFailure, ServiceBusOp, map_service_bus_error};
use crate::error::{ProviderError, Result};

/// Lifetime of the per-request SAS token.
const TOKEN_SECONDS: i64 = 3600;

/// A Service Bus answer with a success status.
pub(super) struct SbResponse {
    pub(super) status: u16,
    pub(super) headers: Headers,
    pub(super) body: Bytes,
}

impl ServiceBusHandle {
    /// `{endpoint}/{path}` with `query` pairs appended.
    pub(super) fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url> {
        let mut url = Url::parse(&format!("{}/{path}", self.config.endpoint)).map_err(|e| {
            ProviderError::invalid_argument(format!("bad Service Bus path '{path}'")).with_source(e)
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Sends `method url` with a SAS token for the namespace, `headers` and `body`; a status
    /// outside 200..=299 becomes an error through [`map_service_bus_error`].
    pub(super) async fn call(
        &self,
        action: &str,
        op: &ServiceBusOp,
        method: Method,
        url: Url,
        headers: &[(&'static str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<SbResponse> {
        let expiry = chrono::Utc::now().timestamp() + TOKEN_SECONDS;
        let token = service_bus_token(
            &self.config.endpoint,
            &self.config.policy_name,
            &self.config.policy_key,
            expiry,
        )?;
        let mut request = Request::new(url, method);
        request.insert_header("authorization", token);
        for (name, value) in headers {
            request.insert_header(*name, value.clone());
        }
        match body {
            Some(body) => request.set_body(body),
            None => {
                request.insert_header("content-length", "0");
                request.set_body(Bytes::new());
            }
        }
        let transport = |e| map_service_bus_error(action, op, ServiceBusFailure::Transport(e));
        let response = self
            .http
            .execute_request(&request)
            .await
            .map_err(transport)?;
        let status = u16::from(response.status());
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.map_err(transport)?;
        if !(200..300).contains(&status) {
            let body = String::from_utf8_lossy(&body).into_owned();
            return Err(map_service_bus_error(
                action,
                op,
                ServiceBusFailure::Status { status, body },
            ));
        }
        Ok(SbResponse {
            status,
            headers,
            body,
        })
    }
}
