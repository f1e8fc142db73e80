//! S3 bucket notifications, provisioned as upstream does on AWS, and the receive-side
//! normalisation of what S3 puts on a queue.
//!
//! Two kinds of rule share one `PutBucketNotificationConfiguration` (the call replaces the
//! bucket's whole configuration):
//! - a Worker's `storage` trigger: S3 → Lambda for the whole bucket, `created` →
//!   `s3:ObjectCreated:*`, `deleted` → `s3:ObjectRemoved:*`, any other name → `s3:{name}`
//!   verbatim (upstream-cloud-semantics.md, Storage trigger row and "Alien event → provider");
//! - a Storage's `notifications` rule: S3 → SQS on `s3:ObjectCreated:*` with the rule's
//!   literal prefix/suffix (published-3.3.49.md §8).

use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, LambdaFunctionConfiguration, NotificationConfiguration,
    NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Map, Value, json};

use super::clients::AwsClients;
use super::error::map_sdk_error;
use super::queue::AwsQueue;
use super::storage::AwsStorage;
use crate::error::{ErrorKind, ProviderError, Result};

/// A Worker's `storage` trigger: its Lambda function and the Alien event names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaTrigger {
    pub function_arn: String,
    /// Alien event names (`created`, `deleted`, …).
    pub events: Vec<String>,
}

/// A Storage `notifications` rule: object-created events whose key matches go to `queue`.
#[derive(Debug, Clone)]
pub struct QueueNotification {
    pub queue: AwsQueue,
    /// Literal key prefix; `None` matches every key.
    pub prefix: Option<String>,
    /// Literal key suffix; `None` matches every key.
    pub suffix: Option<String>,
}

/// Everything a bucket notifies.
#[derive(Debug, Clone, Default)]
pub struct BucketNotifications {
    pub lambda_triggers: Vec<LambdaTrigger>,
    pub queue_notifications: Vec<QueueNotification>,
}

/// The S3 event type of an Alien storage trigger event (upstream-cloud-semantics.md,
/// "Alien event → provider", AWS column).
pub fn s3_event_for(alien_event: &str) -> String {
    match alien_event {
        "created" => "s3:ObjectCreated:*".to_owned(),
        "deleted" => "s3:ObjectRemoved:*".to_owned(),
        other => format!("s3:{other}"),
    }
}

impl AwsClients {
    /// Sets the bucket's notification configuration to `notifications`. Each target queue
    /// first gets a policy letting S3 send from this bucket (without it real S3 refuses the
    /// configuration: "Unable to validate the following destination configurations").
    pub async fn put_bucket_notifications(
        &self,
        storage: &AwsStorage,
        notifications: &BucketNotifications,
    ) -> Result<()> {
        let mut config = NotificationConfiguration::builder();
        for trigger in &notifications.lambda_triggers {
            let mut rule =
                LambdaFunctionConfiguration::builder().lambda_function_arn(&trigger.function_arn);
            for event in &trigger.events {
                rule = rule.events(Event::from(s3_event_for(event).as_str()));
            }
            config = config.lambda_function_configurations(rule.build().map_err(build_error)?);
        }
        for notification in &notifications.queue_notifications {
            let queue_arn = self
                .allow_bucket_to_send(&notification.queue, storage)
                .await?;
            let mut rule = QueueConfiguration::builder()
                .queue_arn(queue_arn)
                .events(Event::from("s3:ObjectCreated:*"));
            if let Some(filter) = key_filter(notification) {
                rule = rule.filter(filter);
            }
            config = config.queue_configurations(rule.build().map_err(build_error)?);
        }
        self.s3
            .put_bucket_notification_configuration()
            .bucket(storage.bucket())
            .notification_configuration(config.build())
            .send()
            .await
            .map_err(|e| map_sdk_error("s3:PutBucketNotificationConfiguration", None, e))?;
        Ok(())
    }

    /// Sets the queue's `Policy` to allow `s3.amazonaws.com` to `SendMessage` from this
    /// bucket (SQS destination permissions for S3 event notifications). Returns the queue ARN.
    async fn allow_bucket_to_send(&self, queue: &AwsQueue, storage: &AwsStorage) -> Result<String> {
        let queue_arn = self.queue_arn(queue.url()).await?;
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnLike": {"aws:SourceArn": format!("arn:aws:s3:::{}", storage.bucket())}},
            }],
        });
        self.sqs
            .set_queue_attributes()
            .queue_url(queue.url())
            .attributes(QueueAttributeName::Policy, policy.to_string())
            .send()
            .await
            .map_err(|e| map_sdk_error("sqs:SetQueueAttributes", None, e))?;
        Ok(queue_arn)
    }
}

fn key_filter(notification: &QueueNotification) -> Option<NotificationConfigurationFilter> {
    let rules: Vec<FilterRule> = [
        (FilterRuleName::Prefix, &notification.prefix),
        (FilterRuleName::Suffix, &notification.suffix),
    ]
    .into_iter()
    .filter_map(|(name, value)| {
        value
            .as_ref()
            .map(|value| FilterRule::builder().name(name).value(value).build())
    })
    .collect();
    (!rules.is_empty()).then(|| {
        NotificationConfigurationFilter::builder()
            .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
            .build()
    })
}

fn build_error(e: aws_sdk_s3::error::BuildError) -> ProviderError {
    ProviderError::new(ErrorKind::Internal, e.to_string())
}

/// What an SQS message body from S3 is.
#[derive(Debug, Clone, PartialEq)]
pub enum S3Body {
    /// `s3:TestEvent`, sent when a configuration is set: acked unseen (published-3.3.49.md §8).
    TestEvent,
    /// One StorageEvent JSON per record.
    Events(Vec<Value>),
    /// Not an S3 notification: delivered unchanged.
    Other,
}

/// Classifies a queue message body and normalises S3 event notifications into StorageEvent
/// JSON (published-3.3.49.md §8: `{eventType, bucketName, objectKey, timestamp, size?, etag?,
/// region?, versionId?}`). Event names map by prefix as upstream's runtime does
/// (upstream-stack-and-limits.md §5.5: `ObjectCreated:` → created, `ObjectRemoved:` →
/// deleted, `ObjectRestore:` → restored, `ObjectReplication:` → copied, `s3:ObjectTagging:` →
/// metadataUpdated); the object key is kept as S3 sends it (URL-encoded; upstream does not
/// decode, same source). A body with an unknown event name is not normalised.
pub fn classify_s3_body(body: &str) -> S3Body {
    serde_json::from_str::<Value>(body).map_or(S3Body::Other, |value| classify_s3_json(&value))
}

/// [`classify_s3_body`] of a body already parsed as JSON (what the queue's receive holds).
pub fn classify_s3_json(value: &Value) -> S3Body {
    if value["Event"] == "s3:TestEvent" {
        return S3Body::TestEvent;
    }
    let Some(records) = value["Records"].as_array().filter(|r| !r.is_empty()) else {
        return S3Body::Other;
    };
    let events: Option<Vec<Value>> = records.iter().map(storage_event).collect();
    events.map_or(S3Body::Other, S3Body::Events)
}

fn storage_event(record: &Value) -> Option<Value> {
    if record["eventSource"] != "aws:s3" {
        return None;
    }
    let name = record["eventName"].as_str()?;
    let event_type = [
        ("ObjectCreated:", "created"),
        ("ObjectRemoved:", "deleted"),
        ("ObjectRestore:", "restored"),
        ("ObjectReplication:", "copied"),
        ("s3:ObjectTagging:", "metadataUpdated"),
    ]
    .iter()
    .find(|(prefix, _)| name.starts_with(prefix))
    .map(|(_, alien)| *alien)?;
    let s3 = &record["s3"];
    let mut event = Map::new();
    event.insert("eventType".into(), event_type.into());
    event.insert("bucketName".into(), s3["bucket"]["name"].as_str()?.into());
    event.insert("objectKey".into(), s3["object"]["key"].as_str()?.into());
    event.insert("timestamp".into(), record["eventTime"].as_str()?.into());
    let optional = [
        ("size", &s3["object"]["size"]),
        ("etag", &s3["object"]["eTag"]),
        ("region", &record["awsRegion"]),
        ("versionId", &s3["object"]["versionId"]),
    ];
    for (field, value) in optional {
        if !value.is_null() && value != "" {
            event.insert(field.into(), value.clone());
        }
    }
    Some(Value::Object(event))
}

#[cfg(test)]
mod tests {
    use super::*;

    // upstream-cloud-semantics.md, "Alien event → provider", AWS column.
    #[test]
    fn alien_events_map_to_s3_event_types() {
        assert_eq!(s3_event_for("created"), "s3:ObjectCreated:*");
        assert_eq!(s3_event_for("deleted"), "s3:ObjectRemoved:*");
        assert_eq!(s3_event_for("ObjectRestore:*"), "s3:ObjectRestore:*");
    }

    // published-3.3.49.md §8: the test event is acked unseen; other bodies pass unchanged.
    #[test]
    fn test_events_and_other_bodies_are_told_apart() {
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-22T08:00:00.000Z","Bucket":"b"}"#;
        assert_eq!(classify_s3_body(test), S3Body::TestEvent);
        assert_eq!(classify_s3_body(r#"{"job":1}"#), S3Body::Other);
        assert_eq!(classify_s3_body("plain text"), S3Body::Other);
        assert_eq!(classify_s3_body(r#"{"Records":[]}"#), S3Body::Other);
    }

    // An S3 event notification (message structure version 2.1, as S3 and moto send it) →
    // StorageEvent JSON (published-3.3.49.md §8), key kept URL-encoded
    // (upstream-stack-and-limits.md §5.5).
    #[test]
    fn records_become_storage_events() {
        let body = json!({"Records": [
            {"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
             "eventTime": "2026-11-22T08:00:00.000Z", "eventName": "ObjectCreated:Put",
             "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
                    "bucket": {"name": "b", "arn": "arn:aws:s3:::b"},
                    "object": {"key": "in/a+b.txt", "size": 5, "eTag": "5d41402a", "sequencer": "0A"}}},
            {"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
             "eventTime": "2026-11-22T08:00:01.000Z", "eventName": "ObjectRemoved:Delete",
             "s3": {"bucket": {"name": "b"}, "object": {"key": "in/old.txt", "versionId": "v1"}}}
        ]});
        assert_eq!(
            classify_s3_body(&body.to_string()),
            S3Body::Events(vec![
                json!({"eventType": "created", "bucketName": "b", "objectKey": "in/a+b.txt",
                       "timestamp": "2026-11-22T08:00:00.000Z", "size": 5, "etag": "5d41402a",
                       "region": "us-east-1"}),
                json!({"eventType": "deleted", "bucketName": "b", "objectKey": "in/old.txt",
                       "timestamp": "2026-11-22T08:00:01.000Z", "region": "us-east-1",
                       "versionId": "v1"}),
            ])
        );
    }

    // upstream-stack-and-limits.md §5.5: any other event name is an error upstream; here the
    // body is then delivered unchanged rather than half-normalised.
    #[test]
    fn an_unknown_event_name_leaves_the_body_alone() {
        let body = json!({"Records": [{"eventSource": "aws:s3", "eventName": "LifecycleExpiration:Delete",
            "eventTime": "t", "s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]});
        assert_eq!(classify_s3_body(&body.to_string()), S3Body::Other);
    }
}
