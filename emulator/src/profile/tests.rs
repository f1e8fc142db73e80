//! Profile tables: every value has a source, dated values switch on their dates, specs parse.

use chrono::NaiveDate;

use super::*;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn all_profiles() -> Vec<Profile> {
    Platform::EMULATED
        .iter()
        .map(|p| Profile::new(*p, day("2026-11-22")).unwrap())
        .collect()
}

#[test]
fn every_profile_value_has_a_source() {
    for profile in all_profiles() {
        let values = profile.values();
        assert!(
            values.len() > 60,
            "{}: only {} values",
            profile.platform,
            values.len()
        );
        for v in &values {
            assert!(
                !v.source.trim().is_empty(),
                "{} {} has no source",
                profile.platform,
                v.path
            );
        }
    }
}

#[test]
fn profiles_hold_the_same_set_of_values() {
    let paths: Vec<Vec<String>> = all_profiles()
        .iter()
        .map(|p| p.values().into_iter().map(|v| v.path).collect())
        .collect();
    for other in &paths[1..] {
        assert_eq!(&paths[0], other);
    }
}

/// seed 001 Limits: Lambda 256 KB async; anchors.md §0 item 4: 1 MB since Oct 2025.
#[test]
fn lambda_async_payload_limit_is_dated() {
    let before = Profile::new(Platform::Aws, day("2025-06-01")).unwrap();
    let after = Profile::new(Platform::Aws, day("2026-01-01")).unwrap();
    assert_eq!(
        before.worker.async_request_max_bytes.value,
        Some(256 * 1024)
    );
    assert_eq!(
        after.worker.async_request_max_bytes.value,
        Some(1024 * 1024)
    );
    assert_eq!(
        after.worker.async_request_max_bytes.since,
        Some(day("2025-10-01"))
    );
}

/// peers.md headline 3: SQS 1 MiB since Aug 2025, 256 KiB before.
#[test]
fn sqs_message_size_is_dated() {
    let spec: ProfileSpec = "aws@2025-06".parse().unwrap();
    let june = spec.resolve(day("2026-11-22")).unwrap();
    assert_eq!(june.queue.service_message_max_bytes.value, 256 * 1024);
    let today: ProfileSpec = "aws".parse().unwrap();
    assert_eq!(
        today
            .resolve(day("2026-11-22"))
            .unwrap()
            .queue
            .service_message_max_bytes
            .value,
        1024 * 1024
    );
}

#[test]
fn spec_parsing() {
    assert_eq!(
        "gcp@2025-06-15".parse::<ProfileSpec>().unwrap(),
        ProfileSpec {
            platform: Platform::Gcp,
            as_of: Some(day("2025-06-15"))
        }
    );
    assert_eq!(
        "AWS".parse::<ProfileSpec>().unwrap().platform,
        Platform::Aws
    );
    assert_eq!(
        "aws@june".parse::<ProfileSpec>().unwrap_err().to_string(),
        "invalid date 'june' in profile spec: expected YYYY-MM or YYYY-MM-DD"
    );
    assert_eq!(
        "mars".parse::<ProfileSpec>().unwrap_err().to_string(),
        "'mars' is not a valid platform"
    );
    assert!(matches!(
        "machines".parse::<ProfileSpec>(),
        Err(ProfileSpecError::NotEmulated(_))
    ));
}

/// seed 001: SQS visibility max(30 s, min(12 h, 6 × timeout)); Service Bus 10 deliveries then
/// dead-letter; Local 30 s lease forever; Pub/Sub fan-out.
#[test]
fn queue_models_follow_the_seeds() {
    let [aws, gcp, azure, _k8s, local] = <[Profile; 5]>::try_from(all_profiles()).unwrap();
    assert_eq!(
        aws.queue.delivery.value,
        DeliveryModel::Visibility {
            multiplier: 6,
            min: 30,
            max: 43_200,
            untriggered: 30
        }
    );
    assert_eq!(gcp.queue.consumers.value, ConsumerModel::FanOut);
    assert_eq!(azure.queue.max_deliveries.value, Some(10));
    assert_eq!(
        local.queue.delivery.value,
        DeliveryModel::Lease { lease_seconds: 30 }
    );
    assert_eq!(local.queue.max_deliveries.value, None);
}

/// seed 004: daemons only on Local and Kubernetes.
#[test]
fn daemon_support_follows_seed_004() {
    let supported: Vec<Platform> = all_profiles()
        .into_iter()
        .filter(|p| p.daemon.supported.value)
        .map(|p| p.platform)
        .collect();
    assert_eq!(supported, vec![Platform::Kubernetes, Platform::Local]);
}
