//! Daemons: long-running processes, supervised on Local and Kubernetes only.

use std::time::Duration;

use alien_providers::DaemonProvider;

use super::{Outcome, kind_or, obs, setup};
use crate::Platform;
use crate::conformance::Target;
use crate::conformance::case::PLATFORMS;
use crate::conformance::case::{Case, Fact, NOT_CHECKED};

/// Upstream has no daemon controller on the clouds.
const NO_CLOUD_DAEMONS: &str = "seed 004 and upstream-cloud-semantics.md §7: Daemons run on Local and Kubernetes only; the clouds have no controller";

pub const LIFECYCLE: Case = Case {
    name: "daemon-lifecycle",
    source: "upstream-cloud-semantics.md §7: a supervised process (Local) or DaemonSet (Kubernetes); stop sends SIGTERM and waits the grace period",
    platforms: &PLATFORMS,
    elsewhere: "",
    facts: &[
        Fact {
            what: "start",
            value: "running",
            on: &[
                (Platform::Aws, "InvalidArgument", NO_CLOUD_DAEMONS),
                (Platform::Gcp, "InvalidArgument", NO_CLOUD_DAEMONS),
                (Platform::Azure, "InvalidArgument", NO_CLOUD_DAEMONS),
            ],
        },
        Fact {
            what: "1 s after stop",
            value: "stopped",
            on: &[
                (Platform::Aws, NOT_CHECKED, NO_CLOUD_DAEMONS),
                (Platform::Gcp, NOT_CHECKED, NO_CLOUD_DAEMONS),
                (Platform::Azure, NOT_CHECKED, NO_CLOUD_DAEMONS),
            ],
        },
        Fact {
            what: "start an unknown daemon",
            value: "NotFound",
            on: &[
                (Platform::Aws, NOT_CHECKED, NO_CLOUD_DAEMONS),
                (Platform::Gcp, NOT_CHECKED, NO_CLOUD_DAEMONS),
                (Platform::Azure, NOT_CHECKED, NO_CLOUD_DAEMONS),
            ],
        },
        Fact {
            what: "after start",
            value: "running",
            on: &[
                (Platform::Aws, NOT_CHECKED, NO_CLOUD_DAEMONS),
                (Platform::Gcp, NOT_CHECKED, NO_CLOUD_DAEMONS),
                (Platform::Azure, NOT_CHECKED, NO_CLOUD_DAEMONS),
            ],
        },
    ],
};

fn running(running: bool) -> &'static str {
    if running { "running" } else { "stopped" }
}

pub async fn lifecycle<T: Target>(target: &T) -> Outcome {
    let (daemons, name) = setup(target.daemons().await)?;
    let started = daemons.start(&name).await;
    let Ok(status) = started else {
        return Ok(vec![obs("start", kind_or(started, "running"))]);
    };
    let mut out = vec![obs("start", running(status.running))];
    daemons.stop(&name, Duration::from_secs(5)).await?;
    target.sleep(Duration::from_secs(1)).await;
    out.push(obs(
        "1 s after stop",
        running(daemons.status(&name).await?.running),
    ));
    out.push(obs(
        "after start",
        running(daemons.start(&name).await?.running),
    ));
    out.push(obs(
        "start an unknown daemon",
        kind_or(daemons.start("ghost").await, "running"),
    ));
    Ok(out)
}
