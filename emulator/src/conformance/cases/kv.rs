//! KV: conditional writes and prefix scans, upstream's portable contract on every platform
//! (upstream-runtime-and-bindings.md §3.3 `Kv`; upstream-stack-and-limits.md §6.5).

use alien_providers::{KvProvider, PutCondition, PutOptions};

use super::{Outcome, kind_or, obs, setup};
use crate::Platform;
use crate::conformance::Target;
use crate::conformance::case::{Case, same};

pub const CONDITIONS_AND_SCAN: Case = Case {
    name: "kv-conditions-and-scan",
    source: "upstream-stack-and-limits.md §6.5: put-if-absent, put-if-version, delete-if-version; a prefix scan pages with a cursor and may return an unordered subset per page; keys are [A-Za-z0-9:_.-] and values at most 24,576 bytes on every platform",
    platforms: &[
        Platform::Aws,
        Platform::Gcp,
        Platform::Azure,
        Platform::Local,
    ],
    elsewhere: "Kubernetes KV is an external DynamoDB, Firestore or Table Storage binding (upstream-cloud-semantics.md §0b Kubernetes), covered by those columns",
    facts: &[
        same("put if absent", "true"),
        same("put if absent again", "false"),
        same("put with another version", "false"),
        same("put with the current version", "true"),
        same("scan user: 1 per page", "user:1,user:2"),
        same("delete with another version", "false"),
        same("delete with the current version", "true"),
        same("after delete", "absent"),
        same("key with a space", "InvalidArgument"),
        same("value of 24577 bytes", "PayloadTooLarge"),
    ],
};

fn absent() -> PutOptions {
    PutOptions {
        ttl: None,
        condition: PutCondition::Absent,
    }
}

fn version(v: &str) -> PutOptions {
    PutOptions {
        ttl: None,
        condition: PutCondition::Version(v.to_string()),
    }
}

pub async fn conditions_and_scan<T: Target>(target: &T, run_id: &str) -> Outcome {
    let kv = setup(target.kv(&format!("conf-{run_id}-kv")).await)?;
    let mut out = vec![obs(
        "put if absent",
        kv.put("user:1", b"a".to_vec(), absent()).await?.to_string(),
    )];
    out.push(obs(
        "put if absent again",
        kv.put("user:1", b"a".to_vec(), absent()).await?.to_string(),
    ));
    let entry = kv.get("user:1").await?.ok_or("user:1 vanished")?;
    out.push(obs(
        "put with another version",
        kv.put("user:1", b"b".to_vec(), version("nope"))
            .await?
            .to_string(),
    ));
    out.push(obs(
        "put with the current version",
        kv.put("user:1", b"b".to_vec(), version(&entry.version))
            .await?
            .to_string(),
    ));
    kv.put("user:2", b"c".to_vec(), PutOptions::default())
        .await?;
    let mut keys = Vec::new();
    let mut cursor = None;
    for _ in 0..10 {
        let page = kv.scan_prefix("user:", Some(1), cursor).await?;
        keys.extend(page.items.into_iter().map(|e| e.key));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    keys.sort();
    keys.dedup();
    out.push(obs("scan user: 1 per page", keys.join(",")));
    let current = kv.get("user:2").await?.ok_or("user:2 vanished")?;
    out.push(obs(
        "delete with another version",
        kv.delete("user:2", Some("nope")).await?.to_string(),
    ));
    out.push(obs(
        "delete with the current version",
        kv.delete("user:2", Some(&current.version))
            .await?
            .to_string(),
    ));
    out.push(obs(
        "after delete",
        if kv.exists("user:2").await? {
            "present"
        } else {
            "absent"
        },
    ));
    out.push(obs(
        "key with a space",
        kind_or(
            kv.put("bad key", b"x".to_vec(), PutOptions::default())
                .await,
            "ok",
        ),
    ));
    out.push(obs(
        "value of 24577 bytes",
        kind_or(
            kv.put("big", vec![0; 24_577], PutOptions::default()).await,
            "ok",
        ),
    ));
    Ok(out)
}
