//! Shared access signatures signed with HMAC-SHA256: a storage account SAS for Blob Storage
//! (the 1.x blob SDK has no shared-key authentication, only Entra ID tokens or a SAS in the
//! URL) and the Service Bus SAS token sent in `Authorization`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::form_urlencoded;

use crate::error::{ProviderError, Result};

/// Service version of the account SAS. Its string-to-sign has no encryption-scope line
/// ("Create an account SAS", Microsoft Learn: the line exists from 2020-12-06).
const ACCOUNT_SAS_VERSION: &str = "2019-12-12";
/// Read, write, delete, list, add, create (the documented permission order).
const ACCOUNT_SAS_PERMISSIONS: &str = "rwdlac";

/// Query parameters of an account SAS for the Blob service (`ss=b`) on service, container and
/// object resources (`srt=sco`), valid until `expiry`, over HTTPS or HTTP (Azurite).
///
/// String-to-sign ("Create an account SAS", Microsoft Learn, versions before 2020-12-06):
/// `account\npermissions\nservice\nresourcetypes\nstart\nexpiry\nip\nprotocol\nversion\n`,
/// signed with HMAC-SHA256 keyed by the base64-decoded account key.
pub fn account_sas(account: &str, key_base64: &str, expiry: DateTime<Utc>) -> Result<String> {
    let key = STANDARD.decode(key_base64.trim()).map_err(|e| {
        ProviderError::invalid_argument("the storage account key is not valid base64")
            .with_source(e)
    })?;
    let se = expiry.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let protocol = "https,http";
    let to_sign = format!(
        "{account}\n{ACCOUNT_SAS_PERMISSIONS}\nb\nsco\n\n{se}\n\n{protocol}\n{ACCOUNT_SAS_VERSION}\n"
    );
    let sig = hmac_base64(&key, &to_sign)?;
    Ok(form_urlencoded::Serializer::new(String::new())
        .append_pair("sv", ACCOUNT_SAS_VERSION)
        .append_pair("ss", "b")
        .append_pair("srt", "sco")
        .append_pair("sp", ACCOUNT_SAS_PERMISSIONS)
        .append_pair("se", &se)
        .append_pair("spr", protocol)
        .append_pair("sig", &sig)
        .finish())
}

/// A Service Bus SAS token for `resource_uri` expiring at `expiry` (Unix seconds):
/// `SharedAccessSignature sr={uri}&sig={sig}&se={expiry}&skn={policy}` where `sig` is the
/// base64 HMAC-SHA256 of `{url-encoded uri}\n{expiry}` keyed by the policy key's UTF-8 bytes
/// ("Service Bus access control with Shared Access Signatures", Microsoft Learn).
pub fn service_bus_token(
    resource_uri: &str,
    policy_name: &str,
    policy_key: &str,
    expiry: i64,
) -> Result<String> {
    let sr: String = form_urlencoded::byte_serialize(resource_uri.as_bytes()).collect();
    let sig = hmac_base64(policy_key.as_bytes(), &format!("{sr}\n{expiry}"))?;
    let sig: String = form_urlencoded::byte_serialize(sig.as_bytes()).collect();
    let skn: String = form_urlencoded::byte_serialize(policy_name.as_bytes()).collect();
    Ok(format!(
        "SharedAccessSignature sr={sr}&sig={sig}&se={expiry}&skn={skn}"
    ))
}

fn hmac_base64(key: &[u8], message: &str) -> Result<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|e| {
        ProviderError::invalid_argument("the signing key cannot key HMAC-SHA256").with_source(e)
    })?;
    mac.update(message.as_bytes());
    Ok(STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values computed independently with Python's hmac/hashlib/base64/urllib from the
    // documented string-to-sign layouts (see the function docs).
    #[test]
    fn account_sas_matches_an_independent_computation() {
        let expiry = DateTime::from_timestamp(1_800_000_000, 0).expect("valid time");
        let sas = account_sas(
            "devstoreaccount1",
            crate::azure::config::AZURITE_ACCOUNT_KEY,
            expiry,
        )
        .expect("sas");
        assert_eq!(sas, ACCOUNT_SAS_EXPECTED);
    }

    #[test]
    fn service_bus_token_matches_an_independent_computation() {
        let token = service_bus_token(
            "https://contoso.servicebus.windows.net/jobs",
            "RootManageSharedAccessKey",
            "c2VjcmV0LWtleQ==",
            1_800_000_000,
        )
        .expect("token");
        assert_eq!(token, SERVICE_BUS_TOKEN_EXPECTED);
    }

    #[test]
    fn bad_account_key_is_invalid_argument() {
        let err = account_sas("a", "not base64!", Utc::now()).expect_err("must fail");
        assert_eq!(err.kind, crate::ErrorKind::InvalidArgument);
    }

    const ACCOUNT_SAS_EXPECTED: &str = "sv=2019-12-12&ss=b&srt=sco&sp=rwdlac&se=2027-01-15T08%3A00%3A00Z&spr=https%2Chttp&sig=umG0DdiM3b%2F1NgczMuTujW%2B1LH7OdCPpmm7o5VlFSUw%3D";
    const SERVICE_BUS_TOKEN_EXPECTED: &str = "SharedAccessSignature sr=https%3A%2F%2Fcontoso.servicebus.windows.net%2Fjobs&sig=rvzLPv5PKz9VAJBBn%2Fx2wdpIKyI0TknETXlo2lAfucg%3D&se=1800000000&skn=RootManageSharedAccessKey";
}
