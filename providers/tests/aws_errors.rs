#![cfg(feature = "aws")]
//! The AWS adapter against a wiremock server on 127.0.0.1 that answers with recorded AWS
//! responses, for what no local peer reproduces: real AWS error responses.
//!
//! Response shapes follow the AWS documentation: SQS speaks the AWS JSON 1.0 protocol with
//! the legacy code in `x-amzn-query-error` ("Interpreting Amazon SQS JSON API responses";
//! common errors such as `InvalidParameterValue` carry a `com.amazon.coral.service#…`
//! `__type`); S3 errors are `<Error><Code>…` XML ("Error responses", S3 API reference);
//! Lambda (REST-JSON) and EventBridge (JSON 1.1) name the error in `x-amzn-ErrorType` /
//! `__type`. Message texts are the ones AWS returns for these cases.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use alien_providers::aws::{
    AwsClients, AwsConfig, BucketNotifications, LambdaTrigger, QueueNotification, QueueSpec,
};
use alien_providers::{
    ErrorKind, Payload, ProviderError, QueueProvider, ReceiptHandle, ReceiveOptions, ScheduleId,
    ScheduleProvider, ScheduleTrigger, SendOutcome, StorageProvider, WorkerInvokeRequest,
    WorkerProvider,
};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REQUEST_ID: &str = "66916324-67ca-54bb-a410-3f567a7a0571";

async fn clients(server: &MockServer) -> AwsClients {
    AwsClients::new(&AwsConfig::for_endpoint(&server.uri())).await
}

// ---------------------------------------------------------------------------------- SQS

/// An SQS JSON-protocol call of operation `op`.
fn sqs(op: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST")).and(header("x-amz-target", format!("AmazonSQS.{op}")))
}

fn sqs_ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("x-amzn-RequestId", REQUEST_ID)
        .set_body_raw(body.to_string(), "application/x-amz-json-1.0")
}

/// An SQS error: legacy code in `x-amzn-query-error`, shape name in `__type`.
fn sqs_error(status: u16, query_code: &str, shape: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("x-amzn-RequestId", REQUEST_ID)
        .insert_header("x-amzn-query-error", format!("{query_code};Sender"))
        .set_body_raw(
            json!({"__type": shape, "message": message}).to_string(),
            "application/x-amz-json-1.0",
        )
}

/// A queue `jobs` created through a recorded `CreateQueue` answer.
async fn queue(server: &MockServer) -> alien_providers::aws::AwsQueue {
    let url = format!("{}/000000000000/jobs", server.uri());
    sqs("CreateQueue")
        .respond_with(sqs_ok(json!({"QueueUrl": url})))
        .mount(server)
        .await;
    clients(server)
        .await
        .create_queue(&QueueSpec::for_workers("jobs", &[]))
        .await
        .expect("create queue")
}

fn assert_kind(err: &ProviderError, kind: ErrorKind, aws_code: &str) {
    assert_eq!(err.kind, kind, "{err}");
    assert!(err.message.contains(aws_code), "{err}");
}

// SQS developer guide, JSON error example: NonExistentQueue / QueueDoesNotExist.
#[tokio::test]
async fn sqs_missing_queue_is_not_found() {
    let server = MockServer::start().await;
    let queue = queue(&server).await;
    sqs("SendMessage")
        .respond_with(sqs_error(
            400,
            "AWS.SimpleQueueService.NonExistentQueue",
            "com.amazonaws.sqs#QueueDoesNotExist",
            "The specified queue does not exist.",
        ))
        .mount(&server)
        .await;
    let err = queue
        .send(Payload::Text("m".into()))
        .await
        .expect_err("no queue");
    assert_kind(
        &err,
        ErrorKind::NotFound,
        "AWS.SimpleQueueService.NonExistentQueue",
    );
    assert!(
        err.message.contains("The specified queue does not exist."),
        "{err}"
    );
}

// SQS API reference, SendMessage errors: RequestThrottled.
#[tokio::test]
async fn sqs_throttling_is_throttled() {
    let server = MockServer::start().await;
    let queue = queue(&server).await;
    sqs("SendMessage")
        .respond_with(sqs_error(
            400,
            "RequestThrottled",
            "com.amazonaws.sqs#RequestThrottled",
            "The request was denied due to request throttling.",
        ))
        .mount(&server)
        .await;
    let err = queue
        .send(Payload::Text("m".into()))
        .await
        .expect_err("throttled");
    assert_kind(&err, ErrorKind::Throttled, "RequestThrottled");
    assert!(err.retryable());
}

// SQS: a body over the queue's MaximumMessageSize is InvalidParameterValue "Message must be
// shorter than N bytes."; size is what was sent, limit the queue's.
#[tokio::test]
async fn sqs_oversize_message_is_payload_too_large() {
    let server = MockServer::start().await;
    let url = format!("{}/000000000000/small", server.uri());
    sqs("CreateQueue")
        .and(body_partial_json(json!({
            "QueueName": "small",
            "Attributes": {"VisibilityTimeout": "30", "MaximumMessageSize": "1024"}
        })))
        .respond_with(sqs_ok(json!({"QueueUrl": url})))
        .mount(&server)
        .await;
    sqs("SendMessage")
        .respond_with(sqs_error(
            400,
            "InvalidParameterValue",
            "com.amazon.coral.service#InvalidParameterValueException",
            "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes.",
        ))
        .mount(&server)
        .await;
    let spec = QueueSpec {
        max_message_bytes: Some(1024),
        ..QueueSpec::for_workers("small", &[])
    };
    let queue = clients(&server)
        .await
        .create_queue(&spec)
        .await
        .expect("create");
    let err = queue
        .send(Payload::Text("x".repeat(2000)))
        .await
        .expect_err("too long");
    assert_kind(
        &err,
        ErrorKind::PayloadTooLarge {
            size: 2000,
            limit: 1024,
        },
        "InvalidParameterValue",
    );
}

// IAM denial text as SQS returns it under the JSON protocol (AccessDenied).
#[tokio::test]
async fn sqs_access_denied_names_the_permission() {
    let server = MockServer::start().await;
    let queue = queue(&server).await;
    sqs("SendMessage")
        .respond_with(sqs_error(
            403,
            "AccessDenied",
            "com.amazon.coral.service#AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: \
             sqs:sendmessage on resource: arn:aws:sqs:us-east-1:123456789012:jobs because no \
             identity-based policy allows the sqs:sendmessage action",
        ))
        .mount(&server)
        .await;
    let err = queue
        .send(Payload::Text("m".into()))
        .await
        .expect_err("denied");
    assert_kind(
        &err,
        ErrorKind::PermissionDenied {
            permission: "sqs:sendmessage".into(),
        },
        "AccessDenied",
    );
}

// SQS API reference, DeleteMessage errors: ReceiptHandleIsInvalid.
#[tokio::test]
async fn sqs_invalid_receipt_is_stale() {
    let server = MockServer::start().await;
    let queue = queue(&server).await;
    sqs("DeleteMessage")
        .respond_with(sqs_error(
            400,
            "ReceiptHandleIsInvalid",
            "com.amazonaws.sqs#ReceiptHandleIsInvalid",
            "The input receipt handle \"AQEBold\" is not a valid receipt handle.",
        ))
        .mount(&server)
        .await;
    let err = queue
        .ack(&ReceiptHandle::from("AQEBold"))
        .await
        .expect_err("invalid receipt");
    assert_kind(&err, ErrorKind::StaleReceipt, "ReceiptHandleIsInvalid");
    assert_eq!(err.code(), "QUEUE_OPERATION_FAILED");
}

// SQS: ChangeMessageVisibility on a receipt whose lease ended is InvalidParameterValue
// naming the ReceiptHandle parameter.
#[tokio::test]
async fn sqs_expired_receipt_is_stale() {
    let server = MockServer::start().await;
    let queue = queue(&server).await;
    sqs("ChangeMessageVisibility")
        .and(body_partial_json(
            json!({"ReceiptHandle": "AQEBold", "VisibilityTimeout": 60}),
        ))
        .respond_with(sqs_error(
            400,
            "InvalidParameterValue",
            "com.amazon.coral.service#InvalidParameterValueException",
            "Value AQEBold for parameter ReceiptHandle is invalid. Reason: Message does not \
             exist or is not available for visibility timeout change.",
        ))
        .mount(&server)
        .await;
    let err = queue
        .change_visibility(&ReceiptHandle::from("AQEBold"), Duration::from_secs(60))
        .await
        .expect_err("expired");
    assert_kind(&err, ErrorKind::StaleReceipt, "InvalidParameterValue");
}

// SQS SendMessageBatch reports per-entry failures in `Failed` with `SenderFault`: sender
// faults are Rejected, others Unknown; upstream's 64 KiB check rejects before sending.
#[tokio::test]
async fn sqs_batch_entry_failures_are_classified() {
    let server = MockServer::start().await;
    let queue = queue(&server).await;
    sqs("SendMessageBatch")
        .and(body_partial_json(json!({"Entries": [
            {"Id": "0", "MessageBody": "a"},
            {"Id": "2", "MessageBody": "x".repeat(2000)},
            {"Id": "3", "MessageBody": "3"}
        ]})))
        .respond_with(sqs_ok(json!({
            "Successful": [
                {"Id": "0", "MessageId": "m-0", "MD5OfMessageBody": "0cc175b9c0f1b6a831c399e269772661"}
            ],
            "Failed": [
                {"Id": "2", "SenderFault": true, "Code": "InvalidParameterValue",
                 "Message": "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."},
                {"Id": "3", "SenderFault": false, "Code": "InternalError",
                 "Message": "We encountered an internal error. Please try again."}
            ]
        })))
        .mount(&server)
        .await;
    let outcomes = queue
        .send_batch(vec![
            Payload::Text("a".into()),
            Payload::Text("x".repeat(70_000)),
            Payload::Text("x".repeat(2000)),
            Payload::Json(json!(3)),
        ])
        .await
        .expect("batch");
    let kinds: Vec<String> = outcomes
        .iter()
        .map(|outcome| match outcome {
            SendOutcome::Sent(id) => format!("sent {id}"),
            SendOutcome::Rejected(err) => format!("rejected {:?}", err.kind),
            SendOutcome::Unknown(err) => format!("unknown {:?}", err.kind),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "sent m-0",
            "rejected PayloadTooLarge { size: 70000, limit: 65536 }",
            "rejected PayloadTooLarge { size: 2000, limit: 1024 }",
            "unknown Internal",
        ]
    );
}

// published-3.3.49.md §0: attempt is ApproximateReceiveCount; the request asks for it, does
// not wait when `wait` is None, and overrides the lease.
#[tokio::test]
async fn sqs_receive_requests_and_reads_system_attributes() {
    let server = MockServer::start().await;
    let queue = queue(&server).await;
    sqs("ReceiveMessage")
        .and(body_partial_json(json!({
            "MaxNumberOfMessages": 5,
            "WaitTimeSeconds": 0,
            "VisibilityTimeout": 45,
            "MessageSystemAttributeNames": ["ApproximateReceiveCount", "SentTimestamp"]
        })))
        .respond_with(sqs_ok(json!({"Messages": [{
            "MessageId": "m-1",
            "ReceiptHandle": "AQEBnew",
            "MD5OfBody": "c5e179508b1710fec2b8c51a8a5efd8e",
            "Body": "{\"job\":1}",
            "Attributes": {"ApproximateReceiveCount": "4", "SentTimestamp": "1767225600000"}
        }]})))
        .mount(&server)
        .await;
    let received = queue
        .receive(ReceiveOptions::new(5).with_lease(Duration::from_secs(45)))
        .await
        .expect("receive");
    assert_eq!(received.len(), 1);
    assert_eq!(
        (
            received[0].id.as_str(),
            received[0].receipt.as_str(),
            received[0].attempt
        ),
        ("m-1", "AQEBnew", 4)
    );
    assert_eq!(received[0].payload, Payload::Json(json!({"job": 1})));
}

// A port nobody listens on: the SDK's connection failure is Unavailable.
#[tokio::test]
async fn unreachable_endpoint_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let clients = AwsClients::new(&AwsConfig::for_endpoint(&format!(
        "http://127.0.0.1:{port}"
    )))
    .await;
    let err = clients
        .create_queue(&QueueSpec::for_workers("jobs", &[]))
        .await
        .expect_err("nothing listens");
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
    assert!(
        err.message
            .starts_with("sqs:CreateQueue: could not reach the service: "),
        "{err}"
    );
}

// ----------------------------------------------------------------------------------- S3

/// An S3 `<Error>` document as the S3 API reference shows it.
fn s3_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>{message}</Message><RequestId>4442587FB7D0A2F9</RequestId>\
         <HostId>QpIp1vRjzCv0vJ4aC6Q9FCI2ZkE=</HostId></Error>"
    );
    ResponseTemplate::new(status)
        .insert_header("x-amz-request-id", "4442587FB7D0A2F9")
        .set_body_raw(xml, "application/xml")
}

async fn bucket(server: &MockServer) -> alien_providers::aws::AwsStorage {
    Mock::given(method("PUT"))
        .and(path("/reports/"))
        .respond_with(ResponseTemplate::new(200).insert_header("Location", "/reports"))
        .mount(server)
        .await;
    clients(server)
        .await
        .create_bucket("reports")
        .await
        .expect("create bucket")
}

// S3 API reference, error codes: NoSuchBucket (404).
#[tokio::test]
async fn s3_missing_bucket_is_not_found() {
    let server = MockServer::start().await;
    let storage = bucket(&server).await;
    Mock::given(method("PUT"))
        .and(path("/reports/a.txt"))
        .respond_with(s3_error(
            404,
            "NoSuchBucket",
            "The specified bucket does not exist",
        ))
        .mount(&server)
        .await;
    let err = storage
        .put("a.txt", b"hi".to_vec(), Default::default())
        .await
        .expect_err("no bucket");
    assert_kind(&err, ErrorKind::NotFound, "NoSuchBucket");
}

// S3 API reference, PutBucketNotificationConfiguration: one call carries every rule; a
// Worker trigger is a whole-bucket Lambda configuration with `created`/`deleted` mapped
// (upstream-cloud-semantics.md), a Storage notification a queue configuration on
// `s3:ObjectCreated:*` with its literal prefix/suffix (published-3.3.49.md §8); the queue
// first gets a policy letting S3 send. A destination S3 cannot validate answers 400
// InvalidArgument "Unable to validate the following destination configurations".
#[tokio::test]
async fn bucket_notifications_are_one_configuration_and_refusals_are_invalid_argument() {
    let server = MockServer::start().await;
    let jobs = queue(&server).await;
    let storage = bucket(&server).await;
    let arn = "arn:aws:sqs:us-east-1:000000000000:jobs";
    sqs("GetQueueAttributes")
        .respond_with(sqs_ok(json!({"Attributes": {"QueueArn": arn}})))
        .mount(&server)
        .await;
    sqs("SetQueueAttributes")
        .and(body_partial_json(json!({"QueueUrl": jobs.url()})))
        .respond_with(sqs_ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/reports/"))
        .and(wiremock::matchers::query_param("notification", ""))
        .respond_with(s3_error(
            400,
            "InvalidArgument",
            "Unable to validate the following destination configurations",
        ))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    let err = clients(&server)
        .await
        .put_bucket_notifications(
            &storage,
            &BucketNotifications {
                lambda_triggers: vec![LambdaTrigger {
                    function_arn: "arn:aws:lambda:us-east-1:000000000000:function:thumbs".into(),
                    events: vec!["created".into(), "deleted".into()],
                }],
                queue_notifications: vec![QueueNotification {
                    queue: jobs,
                    prefix: Some("in/".into()),
                    suffix: Some(".txt".into()),
                }],
            },
        )
        .await
        .expect_err("refused destination");
    assert_kind(&err, ErrorKind::InvalidArgument, "InvalidArgument");
    let requests = server.received_requests().await.unwrap_or_default();
    let put = requests
        .iter()
        .find(|r| r.method.as_str() == "PUT" && r.url.query() == Some("notification"))
        .expect("the configuration was sent");
    let xml = String::from_utf8_lossy(&put.body);
    for part in [
        "<CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:thumbs</CloudFunction>",
        "<Event>s3:ObjectCreated:*</Event><Event>s3:ObjectRemoved:*</Event>",
        &format!("<Queue>{arn}</Queue>"),
        "<FilterRule><Name>prefix</Name><Value>in/</Value></FilterRule>",
        "<FilterRule><Name>suffix</Name><Value>.txt</Value></FilterRule>",
    ] {
        assert!(xml.contains(part), "{part} missing from {xml}");
    }
    let policy = requests
        .iter()
        .find(|r| String::from_utf8_lossy(&r.body).contains("Policy"))
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .expect("queue policy set");
    assert!(
        policy.contains("s3.amazonaws.com") && policy.contains("arn:aws:s3:::reports"),
        "{policy}"
    );
}

// S3: GetObject NoSuchKey and a 404 HeadObject are "absent", not errors (trait contract).
#[tokio::test]
async fn s3_missing_key_reads_as_none() {
    let server = MockServer::start().await;
    let storage = bucket(&server).await;
    Mock::given(method("GET"))
        .and(path("/reports/missing"))
        .respond_with(s3_error(
            404,
            "NoSuchKey",
            "The specified key does not exist.",
        ))
        .mount(&server)
        .await;
    Mock::given(method("HEAD"))
        .and(path("/reports/missing"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    assert!(storage.get("missing").await.expect("get").is_none());
    assert!(storage.head("missing").await.expect("head").is_none());
}

// S3 API reference, error codes: SlowDown (503) "Please reduce your request rate."
#[tokio::test]
async fn s3_slow_down_is_throttled() {
    let server = MockServer::start().await;
    let storage = bucket(&server).await;
    Mock::given(method("PUT"))
        .and(path("/reports/a.txt"))
        .respond_with(s3_error(
            503,
            "SlowDown",
            "Please reduce your request rate.",
        ))
        .mount(&server)
        .await;
    let err = storage
        .put("a.txt", b"hi".to_vec(), Default::default())
        .await
        .expect_err("slow down");
    assert_kind(&err, ErrorKind::Throttled, "SlowDown");
}

// S3 API reference, error codes: AccessDenied (403) "Access Denied" names no action, so the
// call's own IAM action is reported.
#[tokio::test]
async fn s3_access_denied_is_permission_denied() {
    let server = MockServer::start().await;
    let storage = bucket(&server).await;
    Mock::given(method("GET"))
        .and(path("/reports/a.txt"))
        .respond_with(s3_error(403, "AccessDenied", "Access Denied"))
        .mount(&server)
        .await;
    let err = storage.get("a.txt").await.expect_err("denied");
    assert_kind(
        &err,
        ErrorKind::PermissionDenied {
            permission: "s3:GetObject".into(),
        },
        "AccessDenied",
    );
}

// ---------------------------------------------------------------------------- EventBridge

fn events(op: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST")).and(header("x-amz-target", format!("AWSEvents.{op}")))
}

fn events_reply(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("x-amzn-RequestId", REQUEST_ID)
        .set_body_raw(body.to_string(), "application/x-amz-json-1.1")
}

/// Upstream's documented converter quirk: `*/1 * * * *` becomes the plural
/// `rate(1 minutes)`, which EventBridge refuses (upstream-stack-and-limits.md §4.2).
fn quirky_converter() -> alien_providers::aws::ToScheduleExpression {
    Arc::new(|cron: &str| match cron {
        "*/1 * * * *" => Ok("rate(1 minutes)".to_owned()),
        "0 12 * * *" => Ok("cron(0 12 * * ? *)".to_owned()),
        other => Err(ProviderError::invalid_argument(format!(
            "Invalid cron expression '{other}'"
        ))),
    })
}

// EventBridge PutRule: "ValidationException: Parameter ScheduleExpression is not valid."
#[tokio::test]
async fn eventbridge_refused_expression_is_invalid_argument() {
    let server = MockServer::start().await;
    events("PutRule")
        .and(body_partial_json(json!({
            "Name": "stack-reporter-cron-0",
            "ScheduleExpression": "rate(1 minutes)",
            "State": "ENABLED"
        })))
        .respond_with(events_reply(
            400,
            json!({"__type": "ValidationException", "message": "Parameter ScheduleExpression is not valid."}),
        ))
        .mount(&server)
        .await;
    let schedules = clients(&server)
        .await
        .schedules("stack", quirky_converter());
    let trigger = ScheduleTrigger {
        target: "reporter".into(),
        cron: "*/1 * * * *".into(),
    };
    let err = schedules.register(trigger).await.expect_err("refused");
    assert_kind(&err, ErrorKind::InvalidArgument, "ValidationException");
    assert!(err.message.contains("ScheduleExpression"), "{err}");
}

// upstream-cloud-semantics.md: rule `{prefix}-{id}-cron-{i}`; schedule name = rule ARN. A
// refused registration does not use up its index.
#[tokio::test]
async fn eventbridge_rule_is_named_like_upstream() {
    let server = MockServer::start().await;
    events("PutRule")
        .and(body_partial_json(json!({"ScheduleExpression": "rate(1 minutes)"})))
        .respond_with(events_reply(
            400,
            json!({"__type": "ValidationException", "message": "Parameter ScheduleExpression is not valid."}),
        ))
        .mount(&server)
        .await;
    events("PutRule")
        .and(body_partial_json(json!({
            "Name": "stack-reporter-cron-0",
            "ScheduleExpression": "cron(0 12 * * ? *)"
        })))
        .respond_with(events_reply(
            200,
            json!({"RuleArn": "arn:aws:events:us-east-1:123456789012:rule/stack-reporter-cron-0"}),
        ))
        .mount(&server)
        .await;
    let schedules = clients(&server)
        .await
        .schedules("stack", quirky_converter());
    let refused = ScheduleTrigger {
        target: "reporter".into(),
        cron: "*/1 * * * *".into(),
    };
    assert!(schedules.register(refused).await.is_err());
    let registration = schedules
        .register(ScheduleTrigger {
            target: "reporter".into(),
            cron: "0 12 * * *".into(),
        })
        .await
        .expect("register");
    assert_eq!(registration.id.as_str(), "stack-reporter-cron-0");
    assert_eq!(registration.expression, "cron(0 12 * * ? *)");
    assert_eq!(
        registration.schedule_name,
        "arn:aws:events:us-east-1:123456789012:rule/stack-reporter-cron-0"
    );
}

// EventBridge DescribeRule on a missing rule: ResourceNotFoundException.
#[tokio::test]
async fn eventbridge_missing_rule_is_not_found() {
    let server = MockServer::start().await;
    events("DescribeRule")
        .respond_with(events_reply(
            400,
            json!({"__type": "ResourceNotFoundException",
                   "message": "Rule stack-reporter-cron-9 does not exist on EventBus default."}),
        ))
        .mount(&server)
        .await;
    let schedules = clients(&server)
        .await
        .schedules("stack", quirky_converter());
    let err = schedules
        .remove(&ScheduleId::from("stack-reporter-cron-9"))
        .await
        .expect_err("missing");
    assert_kind(&err, ErrorKind::NotFound, "ResourceNotFoundException");
}

// -------------------------------------------------------------------------------- Lambda

const INVOKE_PATH: &str = "/2015-03-31/functions/api/invocations";

fn lambda_error(status: u16, error_type: &str, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("x-amzn-RequestId", REQUEST_ID)
        .insert_header("x-amzn-ErrorType", error_type)
        .set_body_raw(body.to_string(), "application/json")
}

fn request(body: &[u8]) -> WorkerInvokeRequest {
    WorkerInvokeRequest {
        target_worker: String::new(),
        method: "POST".into(),
        path: "/jobs".into(),
        headers: BTreeMap::from([("x-trace".into(), "t1".into())]),
        body: body.to_vec(),
        timeout: None,
    }
}

// upstream-runtime-and-bindings.md §3.5: RequestResponse with {httpMethod, path, headers,
// body (base64), isBase64Encoded: true}; statusCode/headers/body/isBase64Encoded come back.
#[tokio::test]
async fn lambda_invoke_sends_upstreams_payload() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(INVOKE_PATH))
        .and(header("x-amz-invocation-type", "RequestResponse"))
        .and(body_json(json!({
            "httpMethod": "POST",
            "path": "/jobs",
            "headers": {"x-trace": "t1"},
            "body": "e30=",
            "isBase64Encoded": true
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-Amz-Executed-Version", "$LATEST")
                .set_body_raw(
                    json!({"statusCode": 201, "headers": {"x-trace": "t1"},
                           "body": "ZG9uZQ==", "isBase64Encoded": true})
                    .to_string(),
                    "application/json",
                ),
        )
        .mount(&server)
        .await;
    let worker = clients(&server).await.worker("api");
    let response = worker.invoke(request(b"{}")).await.expect("invoke");
    assert_eq!(
        (response.status, response.body.as_slice()),
        (201, b"done".as_slice())
    );
    assert_eq!(
        response.headers.get("x-trace").map(String::as_str),
        Some("t1")
    );
}

// Lambda Invoke: an error inside the function is a 200 with X-Amz-Function-Error.
#[tokio::test]
async fn lambda_function_error_is_internal() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(INVOKE_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-Amz-Function-Error", "Unhandled")
                .insert_header("X-Amz-Executed-Version", "$LATEST")
                .set_body_raw(
                    json!({"errorType": "Error", "errorMessage": "boom", "trace": []}).to_string(),
                    "application/json",
                ),
        )
        .mount(&server)
        .await;
    let err = clients(&server)
        .await
        .worker("api")
        .invoke(request(b""))
        .await
        .expect_err("function error");
    assert_kind(&err, ErrorKind::Internal, "Unhandled");
    assert!(err.message.contains("Error: boom"), "{err}");
}

// Lambda Invoke errors: ResourceNotFoundException (404) "Function not found: …".
#[tokio::test]
async fn lambda_missing_function_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2015-03-31/functions/nope/invocations"))
        .respond_with(lambda_error(
            404,
            "ResourceNotFoundException",
            json!({"Type": "User",
                   "message": "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope"}),
        ))
        .mount(&server)
        .await;
    let missing = WorkerInvokeRequest {
        target_worker: "nope".into(),
        ..request(b"")
    };
    let err = clients(&server)
        .await
        .worker("api")
        .invoke(missing)
        .await
        .expect_err("no function");
    assert_kind(&err, ErrorKind::NotFound, "ResourceNotFoundException");
}

// Lambda Invoke errors: RequestEntityTooLargeException (413) with the 6 MB sync limit; the
// size is the payload the adapter sent.
#[tokio::test]
async fn lambda_oversize_request_is_payload_too_large() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(INVOKE_PATH))
        .respond_with(lambda_error(
            413,
            "RequestEntityTooLargeException",
            json!({"Type": "User",
                   "message": "Request must be smaller than 6291456 bytes for the InvokeFunction operation"}),
        ))
        .mount(&server)
        .await;
    let err = clients(&server)
        .await
        .worker("api")
        .invoke(request(b"{}"))
        .await
        .expect_err("too large");
    let sent = server
        .received_requests()
        .await
        .and_then(|requests| requests.last().map(|r| r.body.len() as u64))
        .expect("a request was recorded");
    assert_kind(
        &err,
        ErrorKind::PayloadTooLarge {
            size: sent,
            limit: 6_291_456,
        },
        "RequestEntityTooLargeException",
    );
}

// Lambda Invoke errors: TooManyRequestsException (429).
#[tokio::test]
async fn lambda_throttling_is_throttled() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(INVOKE_PATH))
        .respond_with(lambda_error(
            429,
            "TooManyRequestsException",
            json!({"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                   "Type": "User", "message": "Rate Exceeded."}),
        ))
        .mount(&server)
        .await;
    let err = clients(&server)
        .await
        .worker("api")
        .invoke(request(b""))
        .await
        .expect_err("throttled");
    assert_kind(&err, ErrorKind::Throttled, "TooManyRequestsException");
}

// Lambda AccessDeniedException carries its text under "Message".
#[tokio::test]
async fn lambda_access_denied_names_the_permission() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(INVOKE_PATH))
        .respond_with(lambda_error(
            403,
            "AccessDeniedException",
            json!({"Message": "User: arn:aws:iam::123456789012:user/dev is not authorized to \
                   perform: lambda:InvokeFunction on resource: \
                   arn:aws:lambda:us-east-1:123456789012:function:api because no \
                   identity-based policy allows the lambda:InvokeFunction action"}),
        ))
        .mount(&server)
        .await;
    let err = clients(&server)
        .await
        .worker("api")
        .invoke(request(b""))
        .await
        .expect_err("denied");
    assert_kind(
        &err,
        ErrorKind::PermissionDenied {
            permission: "lambda:InvokeFunction".into(),
        },
        "AccessDeniedException",
    );
}

// WorkerInvokeRequest.timeout bounds the call: a function slower than it is Timeout.
#[tokio::test]
async fn lambda_slower_than_the_timeout_is_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(INVOKE_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(5))
                .set_body_raw(json!({"statusCode": 200}).to_string(), "application/json"),
        )
        .mount(&server)
        .await;
    let slow = WorkerInvokeRequest {
        timeout: Some(Duration::from_millis(300)),
        ..request(b"")
    };
    let err = clients(&server)
        .await
        .worker("api")
        .invoke(slow)
        .await
        .expect_err("deadline");
    assert_eq!(err.kind, ErrorKind::Timeout, "{err}");
}
