//! A real peer as a conformance target, through the AWS adapter (`alien_providers::aws`):
//! moto or LocalStack at an endpoint on loopback, or real AWS with the SDK's default
//! credentials. Time passes for real; cases poll with tolerance.

use std::sync::Arc;
use std::time::Duration;

use alien_providers::aws::{
    AwsClients, AwsConfig, AwsQueue, AwsSchedules, AwsStorage, AwsWorker, BucketNotifications,
    QueueNotification, QueueSpec,
};
use alien_providers::{ProviderError, QueueMessage, Result};

use super::{KeyRule, NoProvider, QueueSetup, Resource, Target};
use crate::Platform;

pub struct AwsTarget {
    name: String,
    clients: AwsClients,
}

impl AwsTarget {
    /// moto or LocalStack at `endpoint`.
    pub async fn peer(name: &str, endpoint: &str) -> AwsTarget {
        AwsTarget {
            name: name.to_string(),
            clients: AwsClients::new(&AwsConfig::for_endpoint(endpoint)).await,
        }
    }

    /// Real AWS: the SDK's default credential chain and region.
    pub async fn real_aws() -> AwsTarget {
        AwsTarget {
            name: "aws".into(),
            clients: AwsClients::new(&AwsConfig::from_env()).await,
        }
    }
}

/// Upstream's EventBridge conversion (upstream-stack-and-limits.md §4.2), the same the
/// emulator's AWS profile uses.
fn to_schedule_expression(cron: &str) -> Result<String> {
    crate::cron::crontab_to_eventbridge(cron)
        .map_err(|e| ProviderError::invalid_argument(e.to_string()))
}

impl Target for AwsTarget {
    type Queue = AwsQueue;
    type Storage = AwsStorage;
    type Schedules = AwsSchedules;
    type Workers = AwsWorker;
    type Kv = NoProvider;
    type Daemons = NoProvider;

    fn name(&self) -> &str {
        &self.name
    }

    fn platform(&self) -> Platform {
        Platform::Aws
    }

    fn lacks(&self, resource: Resource) -> String {
        match resource {
            Resource::DeployedWorker => {
                "the AWS adapter deploys no Lambda function for the conformance run".into()
            }
            Resource::Kv => "the AWS adapter has no DynamoDB KV yet".into(),
            Resource::Daemons => {
                "AWS has no daemon controller (upstream-cloud-semantics.md §7)".into()
            }
            Resource::Push => "SQS is polled, not pushed".into(),
            other => format!("the AWS adapter has no {other:?}"),
        }
    }

    async fn queue(&self, setup: &QueueSetup) -> Result<AwsQueue> {
        self.clients
            .create_queue(&QueueSpec {
                name: setup.name.clone(),
                visibility_timeout: setup.visibility_timeout,
                max_message_bytes: setup.max_message_bytes,
                max_receive_count: setup.max_receive_count,
            })
            .await
            // As the emulator target: the service's limits, not the binding's 64 KiB.
            .map(AwsQueue::service_api)
    }

    async fn notifying_storage(
        &self,
        name: &str,
        queue: &QueueSetup,
        rule: &KeyRule,
    ) -> Result<(AwsStorage, AwsQueue)> {
        let queue = self.queue(queue).await?;
        let storage = self.clients.create_bucket(name).await?;
        let notifications = BucketNotifications {
            lambda_triggers: Vec::new(),
            queue_notifications: vec![QueueNotification {
                queue: queue.clone(),
                prefix: rule.prefix.clone(),
                suffix: rule.suffix.clone(),
            }],
        };
        self.clients
            .put_bucket_notifications(&storage, &notifications)
            .await?;
        Ok((storage, queue))
    }

    async fn dead_letters(&self, queue: &AwsQueue) -> Result<Vec<QueueMessage>> {
        queue.dead_letters().await
    }

    async fn storage(&self, name: &str) -> Result<AwsStorage> {
        self.clients.create_bucket(name).await
    }

    async fn changing_storage(&self, name: &str) -> Result<AwsStorage> {
        self.clients.create_bucket(name).await
    }

    async fn schedules(&self) -> Result<AwsSchedules> {
        Ok(self
            .clients
            .schedules("conformance", Arc::new(to_schedule_expression)))
    }

    async fn workers(&self) -> Result<AwsWorker> {
        // The function name comes from each request's `target_worker`.
        Ok(self.clients.worker(""))
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}
