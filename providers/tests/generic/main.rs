//! Compile-level proof that each provider trait can be implemented by a tiny in-memory fake
//! and driven by generic code, with `Send` futures, on a hand-written `block_on`.

mod block_on;
mod drivers;
mod fakes;

use std::future::Future;
use std::sync::Arc;

use block_on::block_on;

/// Fails to compile unless the generic driver's future is `Send`.
fn send<F: Future + Send>(future: F) -> F {
    future
}

#[test]
fn queue_fake_passes_the_generic_roundtrip() {
    block_on(send(drivers::queue_roundtrip(&fakes::MemQueue::default())));
}

#[test]
fn queue_fake_reports_stale_receipts() {
    block_on(send(drivers::queue_stale_receipt(
        &fakes::MemQueue::default(),
    )));
}

#[test]
fn queue_fake_validates_inputs() {
    block_on(send(drivers::queue_validation(&fakes::MemQueue::default())));
}

#[test]
fn storage_fake_passes_the_generic_roundtrip() {
    block_on(send(drivers::storage_roundtrip(
        &fakes::MemStorage::default(),
    )));
}

#[test]
fn kv_fake_passes_the_generic_roundtrip() {
    block_on(send(drivers::kv_roundtrip(&fakes::MemKv::default())));
}

#[test]
fn worker_fake_passes_the_generic_invoke() {
    block_on(send(drivers::worker_invoke(&fakes::EchoWorker)));
}

#[test]
fn schedule_fake_passes_the_generic_roundtrip() {
    block_on(send(drivers::schedule_roundtrip(
        &fakes::MinuteSchedules::default(),
    )));
}

#[test]
fn daemon_fake_passes_the_generic_lifecycle() {
    block_on(send(drivers::daemon_lifecycle(&fakes::MemDaemons::with(
        &["indexer"],
    ))));
}

/// A provider shared through `Arc` can be driven from another thread.
#[test]
fn providers_are_shareable_across_threads() {
    let queue = Arc::new(fakes::MemQueue::default());
    let worker_side = Arc::clone(&queue);
    let handle = std::thread::spawn(move || block_on(drivers::queue_roundtrip(&*worker_side)));
    assert!(handle.join().is_ok());
}
