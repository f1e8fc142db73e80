//! The platform's identity check on the data-plane calls the emulator sees: queue operations
//! through the queue owner and worker-to-worker calls. What a workload holds comes from the
//! stack ([`crate::stack::permissions`]); which permission sets allow which action, and how
//! a refusal looks, from the profile's `iam` values (upstream permission-set files).

use std::collections::BTreeMap;

use crate::profile::{IamAction, Profile};
use crate::stack::Stack;
use crate::stack::permissions::{Grants, grants_of};

/// A checked data-plane operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    QueueSend,
    QueueReceive,
    QueueAck,
    /// Renew or nack: a change of the message's lease.
    QueueLease,
    WorkerInvoke,
}

impl Operation {
    fn action(self, profile: &Profile) -> Option<IamAction> {
        let iam = &profile.iam;
        match self {
            Operation::QueueSend => iam.queue_send.value,
            Operation::QueueReceive => iam.queue_receive.value,
            Operation::QueueAck => iam.queue_ack.value,
            Operation::QueueLease => iam.queue_lease.value,
            Operation::WorkerInvoke => iam.worker_invoke.value,
        }
    }

    fn resource_kind(self) -> &'static str {
        match self {
            Operation::WorkerInvoke => "worker",
            _ => "queue",
        }
    }
}

/// A refused call: the platform's status and code, and a message naming what is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Denied {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

/// Every workload's grants, checked against one profile.
#[derive(Debug, Clone)]
pub struct Iam {
    profile: Profile,
    grants: BTreeMap<String, Grants>,
}

impl Iam {
    pub fn new(stack: &Stack, profile: &Profile) -> Iam {
        let workloads = stack
            .workers()
            .map(|(id, _)| id)
            .chain(stack.daemons().map(|(id, _)| id));
        let grants = workloads
            .filter_map(|id| grants_of(stack, id).map(|g| (id.to_string(), g)))
            .collect();
        Iam {
            profile: profile.clone(),
            grants,
        }
    }

    /// Whether `caller` may perform `operation` on `resource`.
    pub fn check(&self, caller: &str, resource: &str, operation: Operation) -> Result<(), Denied> {
        let (Some(denial), Some(action)) = (
            self.profile.iam.denial.value,
            operation.action(&self.profile),
        ) else {
            return Ok(());
        };
        let Some(grants) = self.grants.get(caller) else {
            return Ok(());
        };
        if grants.allows_any(resource, action.granted_by) {
            return Ok(());
        }
        let held: Vec<&str> = grants.on(resource).into_iter().collect();
        let holds = if !grants.profile_exists {
            format!(
                "permission profile '{}' does not exist in the stack, so it holds nothing",
                grants.profile
            )
        } else if held.is_empty() {
            format!(
                "permission profile '{}' grants nothing on '{resource}'",
                grants.profile
            )
        } else {
            format!(
                "permission profile '{}' grants only {} on '{resource}'",
                grants.profile,
                held.join(", ")
            )
        };
        Err(Denied {
            status: denial.status,
            code: denial.code,
            message: format!(
                "'{caller}' is not authorized to perform {} on {} '{resource}': {holds}; missing permission: {} (add it to the profile)",
                action.action,
                operation.resource_kind(),
                action.granted_by.join(" or "),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::NaiveDate;

    use super::*;
    use crate::Platform;
    use crate::stack::parse_stack_json;

    fn stack() -> Stack {
        parse_stack_json(
            r#"{"id":"s","resources":{
              "jobs":{"config":{"type":"queue","id":"jobs"},"lifecycle":"frozen","dependencies":[]},
              "backend":{"config":{"type":"worker","id":"backend","links":[],"triggers":[],"permissions":"backend","code":{"type":"image","image":"x"}},"lifecycle":"live","dependencies":[]},
              "api":{"config":{"type":"worker","id":"api","links":[{"type":"queue","id":"jobs"},{"type":"worker","id":"backend"}],"triggers":[],"permissions":"api","code":{"type":"image","image":"x"}},"lifecycle":"live","dependencies":[]},
              "reader":{"config":{"type":"worker","id":"reader","links":[{"type":"queue","id":"jobs"}],"triggers":[],"permissions":"reader","code":{"type":"image","image":"x"}},"lifecycle":"live","dependencies":[]}},
              "permissions":{"profiles":{"api":{},"backend":{},"reader":{"jobs":["queue/data-read"]}}}}"#,
            Path::new("s.json"),
        )
        .unwrap()
    }

    fn iam(platform: Platform) -> Iam {
        let date = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        Iam::new(&stack(), &Profile::new(platform, date).unwrap())
    }

    /// queue/data-read.jsonc grants no sqs:SendMessage: a reader cannot send on AWS, and the
    /// message names the missing permission sets.
    #[test]
    fn data_read_only_cannot_send_on_aws() {
        let denied = iam(Platform::Aws)
            .check("reader", "jobs", Operation::QueueSend)
            .unwrap_err();
        assert_eq!((denied.status, denied.code), (403, "AccessDenied"));
        assert_eq!(
            denied.to_string(),
            "AccessDenied: 'reader' is not authorized to perform sqs:SendMessage on queue 'jobs': \
             permission profile 'reader' grants only queue/data-read on 'jobs'; missing permission: \
             queue/data-write or queue/publish (add it to the profile)"
        );
        assert!(
            iam(Platform::Aws)
                .check("reader", "jobs", Operation::QueueReceive)
                .is_ok()
        );
    }

    /// Link defaults (queue/data-read + data-write) let a linking worker send and receive.
    #[test]
    fn link_defaults_allow_queue_use() {
        let iam = iam(Platform::Gcp);
        for op in [
            Operation::QueueSend,
            Operation::QueueReceive,
            Operation::QueueAck,
            Operation::QueueLease,
        ] {
            assert!(iam.check("api", "jobs", op).is_ok(), "{op:?}");
        }
    }

    /// A link to a worker adds no `worker/invoke` (resource_link_permissions.rs), so calling
    /// it is refused on AWS (lambda:InvokeFunction) and GCP (run.invoker), not on Azure,
    /// whose worker/invoke grants are control-plane only.
    #[test]
    fn worker_invoke_needs_an_explicit_grant() {
        let aws = iam(Platform::Aws)
            .check("api", "backend", Operation::WorkerInvoke)
            .unwrap_err();
        assert!(aws.message.contains("lambda:InvokeFunction"), "{aws}");
        assert!(aws.message.contains("grants nothing on 'backend'"), "{aws}");
        let gcp = iam(Platform::Gcp)
            .check("api", "backend", Operation::WorkerInvoke)
            .unwrap_err();
        assert_eq!(gcp.code, "PERMISSION_DENIED");
        assert!(
            iam(Platform::Azure)
                .check("api", "backend", Operation::WorkerInvoke)
                .is_ok()
        );
    }

    /// Local and Kubernetes have no identity check on these calls.
    #[test]
    fn local_and_kubernetes_do_not_check() {
        for platform in [Platform::Local, Platform::Kubernetes] {
            assert!(
                iam(platform)
                    .check("reader", "jobs", Operation::QueueSend)
                    .is_ok()
            );
        }
    }
}
