//! The peer columns: targets reached over loopback through a cloud adapter, each at the URL
//! its `scripts/peers/<peer>.sh start` printed (`ALIEN_<PEER>_URL`), and `emulate-sqs`.

#[cfg(feature = "azure")]
use alien_emulator::conformance::AzureTarget;
#[cfg(feature = "gcp")]
use alien_emulator::conformance::GcpTarget;
#[cfg(feature = "aws")]
use alien_emulator::conformance::{AwsTarget, EmulateTarget};

use super::Column;

/// The environment variable that holds a peer's URL, and the script that starts it.
#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
pub fn peer_url_var(peer: &str) -> Option<(&'static str, &'static str)> {
    match peer {
        "moto" => Some(("ALIEN_MOTO_URL", "moto.sh")),
        "localstack" => Some(("ALIEN_LOCALSTACK_URL", "localstack.sh")),
        "pubsub-emulator" => Some(("ALIEN_PUBSUB_EMULATOR_URL", "pubsub.sh")),
        "fake-gcs" => Some(("ALIEN_FAKE_GCS_URL", "fake-gcs.sh")),
        "azurite" => Some(("ALIEN_AZURITE_URL", "azurite.sh")),
        _ => None,
    }
}

/// The URL of `peer`: `--endpoint` when given, else its environment variable.
#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
pub fn peer_url(peer: &str, endpoint: Option<&str>) -> Result<String, String> {
    if let Some(url) = endpoint {
        return Ok(url.to_string());
    }
    let (var, script) = peer_url_var(peer).ok_or_else(|| format!("no URL for {peer}"))?;
    std::env::var(var).map_err(|_| {
        format!("--target {peer} needs --endpoint or {var}: start one with `bash scripts/peers/{script} start`")
    })
}

pub async fn column(
    name: &str,
    endpoint: Option<&str>,
    run_id: &str,
    cases: &[String],
) -> Result<Column, String> {
    match name {
        #[cfg(feature = "aws")]
        "aws" => Ok(super::column(&AwsTarget::real_aws().await, run_id, cases).await),
        #[cfg(feature = "aws")]
        "moto" | "localstack" => {
            let url = peer_url(name, endpoint)?;
            Ok(super::column(&AwsTarget::peer(name, &url).await, run_id, cases).await)
        }
        #[cfg(feature = "aws")]
        "emulate-sqs" => {
            let target = EmulateTarget::start(super::today(), run_id).await?;
            let cells = super::column(&target, run_id, cases).await;
            target.stop().await;
            Ok(cells)
        }
        #[cfg(feature = "gcp")]
        "pubsub-emulator" => {
            let pubsub = peer_url(name, endpoint)?;
            let storage = std::env::var("ALIEN_FAKE_GCS_URL").ok();
            let events = std::env::var("ALIEN_FAKE_GCS_EVENTS_TOPIC").ok();
            let target = GcpTarget::emulators(&pubsub, storage.as_deref(), events.as_deref())
                .await
                .map_err(|e| format!("--target {name}: {e}"))?;
            Ok(super::column(&target, run_id, cases).await)
        }
        #[cfg(feature = "azure")]
        "azurite" => {
            let url = peer_url(name, endpoint)?;
            let target = AzureTarget::azurite(&url).map_err(|e| format!("--target {name}: {e}"))?;
            Ok(super::column(&target, run_id, cases).await)
        }
        other => {
            let _ = (endpoint, run_id, cases);
            Err(format!("--target {other} is not available in this build"))
        }
    }
}
