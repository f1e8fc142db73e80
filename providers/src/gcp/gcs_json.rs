//! The Cloud Storage JSON API calls google-cloud-storage 1.21 only offers over gRPC
//! (`google.storage.v2`, which fake-gcs-server does not serve) or not at all (notification
//! configurations), made with reqwest. Reference: cloud.google.com/storage/docs/json_api/v1
//! (buckets.insert, objects.get, objects.list, objects.delete, notifications.insert).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use google_cloud_auth::credentials::{Builder as AdcBuilder, CacheableResource, Credentials};
use google_cloud_storage::Error;
use reqwest::{Method, RequestBuilder, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::map_gcp_error;
use super::gcs_error::http_error;
use crate::error::{ErrorKind, ProviderError, Result};
use crate::storage::ObjectMeta;

/// Google's Cloud Storage endpoint (JSON API).
const GOOGLE_ENDPOINT: &str = "https://storage.googleapis.com";

/// A JSON API client: base URL plus, unless anonymous, Application Default Credentials.
#[derive(Debug, Clone)]
pub(super) struct GcsJson {
    http: reqwest::Client,
    base: String,
    credentials: Option<Credentials>,
}

/// An object resource (the fields the adapter reads). `int64` fields are JSON strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ObjectResource {
    pub(super) name: String,
    #[serde(default)]
    pub(super) size: String,
    #[serde(default)]
    pub(super) etag: String,
    #[serde(default)]
    pub(super) generation: String,
    pub(super) updated: DateTime<Utc>,
    pub(super) content_type: Option<String>,
    #[serde(default)]
    pub(super) metadata: BTreeMap<String, String>,
}

impl ObjectResource {
    pub(super) fn into_meta(self) -> ObjectMeta {
        ObjectMeta {
            size: self.size.parse().unwrap_or(0),
            key: self.name,
            etag: self.etag,
            last_modified: self.updated,
            content_type: self.content_type.filter(|t| !t.is_empty()),
            metadata: self.metadata,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Objects {
    #[serde(default)]
    items: Vec<ObjectResource>,
    next_page_token: Option<String>,
}

impl GcsJson {
    /// `endpoint` (fake-gcs-server: `http://127.0.0.1:PORT`) or Google's; credentials from
    /// ADC unless `anonymous`.
    pub(super) fn new(endpoint: Option<&str>, anonymous: bool) -> Result<GcsJson> {
        let credentials = if anonymous {
            None
        } else {
            Some(AdcBuilder::default().build().map_err(|e| {
                ProviderError::new(
                    ErrorKind::PermissionDenied {
                        permission: String::new(),
                    },
                    format!("Cloud Storage JSON API: no Application Default Credentials: {e}"),
                )
                .with_source(e)
            })?)
        };
        Ok(GcsJson {
            http: reqwest::Client::new(),
            base: endpoint
                .unwrap_or(GOOGLE_ENDPOINT)
                .trim_end_matches('/')
                .to_owned(),
            credentials,
        })
    }

    /// `buckets.insert`: `POST /storage/v1/b?project=` with `{"name"}`.
    pub(super) async fn create_bucket(&self, project: &str, name: &str) -> Result<()> {
        let action = "storage.buckets.create";
        let request = self
            .request(Method::POST, "/storage/v1/b")
            .query(&[("project", project)])
            .json(&json!({ "name": name }));
        self.send(action, None, request).await?;
        Ok(())
    }

    /// `objects.insert` as a multipart upload (`POST /upload/storage/v1/b/{bucket}/o?
    /// uploadType=multipart`): a JSON part `{name, contentType, metadata}`, then the media
    /// part with the content type as its `Content-Type` (fake-gcs-server reads the type only
    /// from there; Cloud Storage from either, "Perform a multipart upload").
    pub(super) async fn upload(
        &self,
        bucket: &str,
        key: &str,
        media: Vec<u8>,
        content_type: Option<&str>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<ObjectResource> {
        let action = "storage.objects.create";
        let size = media.len() as u64;
        let mut resource = json!({ "name": key, "metadata": metadata });
        if let Some(content_type) = content_type {
            resource["contentType"] = Value::from(content_type);
        }
        if let Some(bad) = content_type.filter(|t| t.chars().any(char::is_control)) {
            return Err(ProviderError::invalid_argument(format!(
                "content type {bad:?} contains control characters"
            )));
        }
        let (boundary, body) = multipart_related(&resource, content_type, &media);
        let path = format!("/upload/storage/v1/b/{}/o", encode(bucket));
        let request = self
            .request(Method::POST, &path)
            .query(&[("uploadType", "multipart"), ("name", key)])
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/related; boundary={boundary}"),
            )
            .body(body);
        let response = self.send(action, Some(size), request).await?;
        parse(action, response).await
    }

    /// `objects.get` (metadata) of `key`, of one generation when given; 404 is `None`.
    pub(super) async fn object(
        &self,
        bucket: &str,
        key: &str,
        generation: Option<&str>,
    ) -> Result<Option<ObjectResource>> {
        let action = "storage.objects.get";
        let mut request = self.request(Method::GET, &object_path(bucket, key));
        if let Some(generation) = generation {
            request = request.query(&[("generation", generation)]);
        }
        match self.send(action, None, request).await {
            Ok(response) => Ok(Some(parse(action, response).await?)),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `objects.list` with `prefix`, `pageToken`, `maxResults`: the page and the next token.
    pub(super) async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        page_token: Option<&str>,
        max_results: Option<u32>,
    ) -> Result<(Vec<ObjectResource>, Option<String>)> {
        let action = "storage.objects.list";
        let mut query = vec![("prefix", prefix.to_owned())];
        if let Some(token) = page_token {
            query.push(("pageToken", token.to_owned()));
        }
        if let Some(max) = max_results {
            query.push(("maxResults", max.to_string()));
        }
        let path = format!("/storage/v1/b/{}/o", encode(bucket));
        let request = self.request(Method::GET, &path).query(&query);
        let response = self.send(action, None, request).await?;
        let page: Objects = parse(action, response).await?;
        Ok((page.items, page.next_page_token.filter(|t| !t.is_empty())))
    }

    /// `objects.delete`; `false` when there was no such object (404).
    pub(super) async fn delete(&self, bucket: &str, key: &str) -> Result<bool> {
        let request = self.request(Method::DELETE, &object_path(bucket, key));
        match self.send("storage.objects.delete", None, request).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `POST {path}` with a JSON body; the answer as JSON.
    pub(super) async fn post(&self, action: &str, path: &str, body: &Value) -> Result<Value> {
        let request = self.request(Method::POST, path).json(body);
        let response = self.send(action, None, request).await?;
        parse(action, response).await
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// Adds the credentials' headers, sends, and turns a failure into a [`ProviderError`].
    async fn send(
        &self,
        action: &str,
        sent_bytes: Option<u64>,
        mut request: RequestBuilder,
    ) -> Result<Response> {
        if let Some(credentials) = &self.credentials {
            match credentials.headers(Default::default()).await {
                Ok(CacheableResource::New { data, .. }) => request = request.headers(data),
                // Only answered to a request carrying an entity tag, which this one has not.
                Ok(CacheableResource::NotModified) => {}
                Err(e) => return Err(map_gcp_error(action, None, Error::authentication(e))),
            }
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(action, e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap_or_default();
        Err(map_gcp_error(action, sent_bytes, http_error(status, &body)))
    }
}

/// A `multipart/related` body (RFC 2387) of `resource` as JSON, then `media` typed
/// `content_type`, and its boundary: the first `alien-part-{n}` found in neither part.
fn multipart_related(
    resource: &Value,
    content_type: Option<&str>,
    media: &[u8],
) -> (String, Vec<u8>) {
    let json = resource.to_string();
    let contains = |haystack: &[u8], needle: &str| {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    };
    let boundary = (0u32..)
        .map(|n| format!("alien-part-{n}"))
        .find(|b| !contains(media, b) && !json.contains(b.as_str()))
        .unwrap_or_default();
    let mut body = format!(
        "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{json}\r\n--{boundary}\r\n"
    )
    .into_bytes();
    if let Some(content_type) = content_type {
        body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
    }
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(media);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (boundary, body)
}

/// `/storage/v1/b/{bucket}/o/{object}`, both percent-encoded as one path segment each.
fn object_path(bucket: &str, key: &str) -> String {
    format!("/storage/v1/b/{}/o/{}", encode(bucket), encode(key))
}

/// Percent-encodes everything but RFC 3986 unreserved characters (the JSON API's object
/// name encoding: "Encoding URI path parts", Cloud Storage docs).
pub(super) fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

async fn parse<T: serde::de::DeserializeOwned>(action: &str, response: Response) -> Result<T> {
    let body = response
        .bytes()
        .await
        .map_err(|e| transport_error(action, e))?;
    serde_json::from_slice(&body).map_err(|e| {
        ProviderError::new(
            ErrorKind::Internal,
            format!("{action}: unexpected response body: {e}"),
        )
        .with_source(e)
    })
}

/// reqwest could not complete the exchange (connection refused, reset, deadline).
fn transport_error(action: &str, e: reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        return map_gcp_error(action, None, Error::timeout(e));
    }
    ProviderError::new(
        ErrorKind::Unavailable,
        format!("{action}: could not reach the service: {e}"),
    )
    .with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Cloud Storage "Encoding URI path parts": '/' and other reserved characters of an
    // object name are percent-encoded in the path.
    #[test]
    fn object_names_are_one_encoded_segment() {
        assert_eq!(
            object_path("b", "dir/a b+c?.txt"),
            "/storage/v1/b/b/o/dir%2Fa%20b%2Bc%3F.txt"
        );
        assert_eq!(encode("é~_-."), "%C3%A9~_-.");
    }

    // "Perform a multipart upload" (JSON API): metadata part, then the typed media part;
    // the boundary occurs in neither.
    #[test]
    fn multipart_body_has_both_parts_and_a_fresh_boundary() {
        let resource = json!({"name": "k", "contentType": "text/plain"});
        let (boundary, body) =
            multipart_related(&resource, Some("text/plain"), b"x alien-part-0 y");
        assert_eq!(boundary, "alien-part-1");
        let expected = format!(
            "--alien-part-1\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{resource}\r\n\
             --alien-part-1\r\nContent-Type: text/plain\r\n\r\nx alien-part-0 y\r\n--alien-part-1--\r\n"
        );
        assert_eq!(String::from_utf8_lossy(&body), expected);
    }

    // objects resource: size is an int64 string, updated is RFC 3339.
    #[test]
    fn an_object_resource_becomes_object_meta() {
        let object: ObjectResource = serde_json::from_value(json!({
            "kind": "storage#object", "name": "a/b", "size": "5", "etag": "XUFA",
            "generation": "17", "updated": "2026-12-06T20:39:10.060395Z",
            "contentType": "text/plain", "metadata": {"k": "v"}
        }))
        .expect("an object resource");
        let meta = object.into_meta();
        assert_eq!(meta.key, "a/b");
        assert_eq!(meta.size, 5);
        assert_eq!(meta.etag, "XUFA");
        assert_eq!(
            meta.last_modified.to_rfc3339(),
            "2026-12-06T20:39:10.060395+00:00"
        );
        assert_eq!(meta.content_type.as_deref(), Some("text/plain"));
        assert_eq!(meta.metadata.get("k").map(String::as_str), Some("v"));
    }
}
