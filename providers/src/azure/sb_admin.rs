//! Service Bus queue provisioning and description over the ATOM management REST API
//! ("Create Entity" / "Get Entity", `api-version=2017-04`, Microsoft Learn), plus the
//! `xs:duration` values the queue description carries.

use std::time::Duration;

use azure_core::http::Method;

use super::clients::AzureClients;
use super::sb_error::{STANDARD_MAX_MESSAGE_BYTES, ServiceBusOp};
use super::sb_queue::ServiceBusQueue;
use crate::error::{ErrorKind, Result};

/// API version of the ATOM management API.
pub const MANAGEMENT_API_VERSION: &str = "2017-04";
/// Content type of a Create Entity body.
pub const ATOM_ENTRY: &str = "application/atom+xml;type=entry;charset=utf-8";
/// Server default lock duration, PT1M (upstream-cloud-semantics.md §4.1).
pub const DEFAULT_LOCK_DURATION: Duration = Duration::from_secs(60);

/// A queue to create. Upstream leaves every property unset, so the namespace defaults apply
/// (lock PT1M, MaxDeliveryCount 10 then `$DeadLetterQueue`; upstream-cloud-semantics.md §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceBusQueueSpec {
    /// Queue name; upstream uses `{prefix}-{id}`.
    pub name: String,
    /// `LockDuration`; `None` keeps the server default.
    pub lock_duration: Option<Duration>,
    /// `MaxDeliveryCount`; `None` keeps the server default.
    pub max_delivery_count: Option<u32>,
}

impl ServiceBusQueueSpec {
    /// Queue `{prefix}-{id}` with every property unset, as upstream provisions it
    /// (upstream-cloud-semantics.md §10, `queue/azure.rs` L15-17).
    pub fn upstream(prefix: &str, id: &str) -> Self {
        Self::named(&format!("{prefix}-{id}"))
    }

    /// Queue `name` with every property unset.
    pub fn named(name: &str) -> Self {
        ServiceBusQueueSpec {
            name: name.to_owned(),
            lock_duration: None,
            max_delivery_count: None,
        }
    }

    /// The Create Entity body: an Atom entry wrapping a `QueueDescription` with only the set
    /// properties, in the schema's element order (LockDuration before MaxDeliveryCount).
    pub fn atom_entry(&self) -> String {
        let mut properties = String::new();
        if let Some(lock) = self.lock_duration {
            properties.push_str(&format!(
                "<LockDuration>{}</LockDuration>",
                format_duration(lock)
            ));
        }
        if let Some(count) = self.max_delivery_count {
            properties.push_str(&format!("<MaxDeliveryCount>{count}</MaxDeliveryCount>"));
        }
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
             <entry xmlns=\"http://www.w3.org/2005/Atom\">\
             <content type=\"application/xml\">\
             <QueueDescription xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xmlns=\"http://schemas.microsoft.com/netservices/2010/10/servicebus/connect\">\
             {properties}</QueueDescription></content></entry>"
        )
    }
}

/// What a queue description reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDescription {
    /// `LockDuration`.
    pub lock_duration: Duration,
    /// `DefaultMessageTimeToLive` (TimeSpan.MaxValue when unset).
    pub default_ttl: Option<Duration>,
    /// `MaxMessageSizeInKilobytes` × 1024 (Premium), else the Standard 256 KB.
    pub max_message_bytes: u64,
    /// `CountDetails/ActiveMessageCount`.
    pub active: u64,
    /// `CountDetails/ScheduledMessageCount`.
    pub scheduled: u64,
    /// `CountDetails/DeadLetterMessageCount`.
    pub dead_letter: u64,
}

impl QueueDescription {
    /// Reads a Get Entity / Create Entity answer; missing elements take the defaults.
    pub fn parse(atom: &str) -> QueueDescription {
        let number = |name| xml_value(atom, name).and_then(|v| v.parse::<u64>().ok());
        QueueDescription {
            lock_duration: xml_value(atom, "LockDuration")
                .and_then(parse_duration)
                .unwrap_or(DEFAULT_LOCK_DURATION),
            default_ttl: xml_value(atom, "DefaultMessageTimeToLive").and_then(parse_duration),
            max_message_bytes: number("MaxMessageSizeInKilobytes")
                .map_or(STANDARD_MAX_MESSAGE_BYTES, |kb| kb * 1024),
            active: number("ActiveMessageCount").unwrap_or(0),
            scheduled: number("ScheduledMessageCount").unwrap_or(0),
            dead_letter: number("DeadLetterMessageCount").unwrap_or(0),
        }
    }
}

impl AzureClients {
    /// Creates the queue with Create Entity (`PUT {namespace}/{name}?api-version=2017-04`).
    /// An existing queue (409) is fine: its description is read back so the handle knows the
    /// real lock duration.
    pub async fn create_service_bus_queue(
        &self,
        spec: &ServiceBusQueueSpec,
    ) -> Result<ServiceBusQueue> {
        let sb = self.service_bus()?;
        let url = sb.url(&spec.name, &[("api-version", MANAGEMENT_API_VERSION)])?;
        let headers = [("content-type", ATOM_ENTRY.to_owned())];
        let body = spec.atom_entry().into_bytes();
        let created = sb
            .call(
                "CreateQueue",
                &ServiceBusOp::Manage,
                Method::Put,
                url,
                &headers,
                Some(body),
            )
            .await;
        let description = match created {
            Ok(response) => QueueDescription::parse(&String::from_utf8_lossy(&response.body)),
            Err(e) if e.kind == ErrorKind::AlreadyExists => {
                ServiceBusQueue::describe_with(sb, &spec.name).await?
            }
            Err(e) => return Err(e),
        };
        Ok(ServiceBusQueue::new(
            sb.clone(),
            &spec.name,
            description.lock_duration,
        ))
    }

    /// Binds existing queue `name` whose lock duration is `lock_duration` (the server default
    /// is [`DEFAULT_LOCK_DURATION`]) without calling the service.
    pub fn service_bus_queue(
        &self,
        name: &str,
        lock_duration: Duration,
    ) -> Result<ServiceBusQueue> {
        Ok(ServiceBusQueue::new(
            self.service_bus()?.clone(),
            name,
            lock_duration,
        ))
    }
}

/// `xs:duration` for a whole or fractional number of seconds: `PT60S`, `PT0.5S`.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("PT{}S", d.as_secs())
    } else {
        format!("PT{}S", d.as_secs_f64())
    }
}

/// Parses the day-time subset of `xs:duration` Service Bus uses (`PT1M`, `P14D`,
/// `P10675199DT2H48M5.4775807S`); years, months and weeks are refused.
pub fn parse_duration(text: String) -> Option<Duration> {
    let rest = text.trim().strip_prefix('P')?;
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut secs = 0f64;
    for (part, units) in [
        (date, &[('D', 86_400.0)][..]),
        (time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)][..]),
    ] {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
            } else {
                let factor = units.iter().find(|(u, _)| *u == c)?.1;
                secs += number.parse::<f64>().ok()? * factor;
                number.clear();
            }
        }
        if !number.is_empty() {
            return None;
        }
    }
    Some(Duration::from_secs_f64(secs))
}

/// Text of the first element named `name`, with or without a namespace prefix
/// (`<LockDuration>`, `<d2p1:ActiveMessageCount>`).
fn xml_value(xml: &str, name: &str) -> Option<String> {
    let tail = format!("{name}>");
    let mut from = 0;
    while let Some(pos) = xml[from..].find(&tail) {
        let at = from + pos;
        let open = xml[..at].rfind('<')?;
        let tag = &xml[open + 1..at];
        if !tag.starts_with('/') && (tag.is_empty() || (tag.ends_with(':') && !tag.contains(' '))) {
            let start = at + tail.len();
            let end = xml[start..].find('<')?;
            return Some(xml[start..start + end].to_owned());
        }
        from = at + tail.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    // "Queue description" (Microsoft Learn): LockDuration and MessageTimeToLive are
    // xs:duration; TimeSpan.MaxValue is P10675199DT2H48M5.4775807S.
    #[test]
    fn durations_parse_and_format() {
        assert_eq!(parse_duration("PT1M".into()), Some(Duration::from_secs(60)));
        assert_eq!(
            parse_duration("PT30S".into()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_duration("P14D".into()),
            Some(Duration::from_secs(14 * 86_400))
        );
        assert_eq!(
            parse_duration("PT1H30M".into()),
            Some(Duration::from_secs(5400))
        );
        let max = parse_duration("P10675199DT2H48M5.4775807S".into()).expect("max");
        assert_eq!(max.as_secs(), 10_675_199 * 86_400 + 2 * 3600 + 48 * 60 + 5);
        assert_eq!(parse_duration("P1Y".into()), None);
        assert_eq!(format_duration(Duration::from_secs(60)), "PT60S");
        assert_eq!(format_duration(Duration::from_millis(1500)), "PT1.5S");
    }

    // Upstream sends every property unset (upstream-cloud-semantics.md §4.1).
    #[test]
    fn upstream_spec_sends_an_empty_description() {
        let spec = ServiceBusQueueSpec::upstream("app", "jobs");
        assert_eq!(spec.name, "app-jobs");
        let body = spec.atom_entry();
        assert!(
            body.contains("servicebus/connect\"></QueueDescription>"),
            "{body}"
        );
    }

    #[test]
    fn set_properties_keep_schema_order() {
        let spec = ServiceBusQueueSpec {
            lock_duration: Some(Duration::from_secs(30)),
            max_delivery_count: Some(3),
            ..ServiceBusQueueSpec::named("q")
        };
        let body = spec.atom_entry();
        let lock = body
            .find("<LockDuration>PT30S</LockDuration>")
            .expect("lock");
        let count = body
            .find("<MaxDeliveryCount>3</MaxDeliveryCount>")
            .expect("count");
        assert!(lock < count);
    }

    #[test]
    fn prefixed_and_plain_elements_are_found() {
        let xml = "<QueueDescription><LockDuration>PT1M</LockDuration><CountDetails \
                   xmlns:d2p1=\"x\"><d2p1:ActiveMessageCount>4</d2p1:ActiveMessageCount>\
                   </CountDetails></QueueDescription>";
        assert_eq!(xml_value(xml, "LockDuration").as_deref(), Some("PT1M"));
        assert_eq!(xml_value(xml, "ActiveMessageCount").as_deref(), Some("4"));
        assert_eq!(xml_value(xml, "MessageCount"), None);
    }
}
