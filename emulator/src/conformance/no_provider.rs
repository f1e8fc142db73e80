//! [`NoProvider`]: the resource type of a target that has no such resource (a peer without a
//! KV or daemon adapter). It has no values, so it is never called; the target's method answers
//! [`unsupported`] instead.

use std::time::Duration;

use alien_providers::{
    ChangeCursor, ChangePage, DaemonProvider, DaemonStatus, ErrorKind, KvEntry, KvProvider,
    ListPage, MessageId, ObjectMeta, Payload, ProviderError, PutObjectOptions, PutObjectResult,
    PutOptions, QueueAttributes, QueueMessage, QueueProvider, ReceiptHandle, ReceiveOptions,
    Result, ScanResult, ScheduleId, ScheduleProvider, ScheduleRegistration, ScheduleTrigger,
    StorageProvider, StoredObject, WorkerInvokeRequest, WorkerInvokeResponse, WorkerProvider,
};
use chrono::{DateTime, Utc};

/// A resource the target does not have.
#[derive(Debug)]
pub enum NoProvider {}

/// The answer of a target method for a resource it does not cover.
pub fn unsupported<T>(reason: impl Into<String>) -> Result<T> {
    Err(ProviderError::new(ErrorKind::Unsupported, reason))
}

impl QueueProvider for NoProvider {
    async fn send(&self, _: Payload) -> Result<MessageId> {
        match *self {}
    }
    async fn receive(&self, _: ReceiveOptions) -> Result<Vec<QueueMessage>> {
        match *self {}
    }
    async fn ack(&self, _: &ReceiptHandle) -> Result<()> {
        match *self {}
    }
    async fn nack(&self, _: &ReceiptHandle) -> Result<()> {
        match *self {}
    }
    async fn change_visibility(&self, _: &ReceiptHandle, _: Duration) -> Result<()> {
        match *self {}
    }
    async fn purge(&self) -> Result<()> {
        match *self {}
    }
    async fn attributes(&self) -> Result<QueueAttributes> {
        match *self {}
    }
}

impl StorageProvider for NoProvider {
    async fn put(&self, _: &str, _: Vec<u8>, _: PutObjectOptions) -> Result<PutObjectResult> {
        match *self {}
    }
    async fn get(&self, _: &str) -> Result<Option<StoredObject>> {
        match *self {}
    }
    async fn head(&self, _: &str) -> Result<Option<ObjectMeta>> {
        match *self {}
    }
    async fn list(&self, _: &str, _: Option<String>) -> Result<ListPage> {
        match *self {}
    }
    async fn delete(&self, _: &str) -> Result<()> {
        match *self {}
    }
    async fn changes_since(&self, _: Option<ChangeCursor>) -> Result<ChangePage> {
        match *self {}
    }
}

impl ScheduleProvider for NoProvider {
    async fn register(&self, _: ScheduleTrigger) -> Result<ScheduleRegistration> {
        match *self {}
    }
    async fn fire_times(
        &self,
        _: &ScheduleId,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
        _: usize,
    ) -> Result<Vec<DateTime<Utc>>> {
        match *self {}
    }
    async fn remove(&self, _: &ScheduleId) -> Result<()> {
        match *self {}
    }
}

impl WorkerProvider for NoProvider {
    async fn invoke(&self, _: WorkerInvokeRequest) -> Result<WorkerInvokeResponse> {
        match *self {}
    }
}

impl KvProvider for NoProvider {
    async fn get(&self, _: &str) -> Result<Option<KvEntry>> {
        match *self {}
    }
    async fn put(&self, _: &str, _: Vec<u8>, _: PutOptions) -> Result<bool> {
        match *self {}
    }
    async fn delete(&self, _: &str, _: Option<&str>) -> Result<bool> {
        match *self {}
    }
    async fn exists(&self, _: &str) -> Result<bool> {
        match *self {}
    }
    async fn scan_prefix(
        &self,
        _: &str,
        _: Option<usize>,
        _: Option<String>,
    ) -> Result<ScanResult> {
        match *self {}
    }
}

impl DaemonProvider for NoProvider {
    async fn start(&self, _: &str) -> Result<DaemonStatus> {
        match *self {}
    }
    async fn stop(&self, _: &str, _: Duration) -> Result<DaemonStatus> {
        match *self {}
    }
    async fn status(&self, _: &str) -> Result<DaemonStatus> {
        match *self {}
    }
}
