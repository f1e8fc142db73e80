//! The instances of one worker, each with a number that names it in the trace.
//!
//! An instance handles one event at a time (the app SDK runs tasks strictly in turn,
//! upstream-runtime-and-bindings.md §2.10; Lambda: one event per execution environment,
//! upstream-cloud-semantics.md §3.1). A free instance is reused before a new one starts (a warm
//! start); the one freed last is reused first, so scale-in stops the ones idle longest.

use std::collections::{BTreeSet, VecDeque};

/// Running instances: idle ones (least recently used first) and busy ones.
#[derive(Debug, Clone, Default)]
pub(crate) struct InstancePool {
    /// The number the next new instance gets (numbers start at 1 and are never reused).
    next: u32,
    idle: VecDeque<u32>,
    busy: BTreeSet<u32>,
}

impl InstancePool {
    /// A pool with `warm` idle instances already running (numbers 1..=warm).
    pub fn with_idle(warm: u32) -> InstancePool {
        let mut pool = InstancePool::default();
        for _ in 0..warm {
            let n = pool.new_number();
            pool.idle.push_back(n);
        }
        pool
    }

    fn new_number(&mut self) -> u32 {
        self.next += 1;
        self.next
    }

    /// Instances running, idle or busy.
    pub fn running(&self) -> u32 {
        (self.idle.len() + self.busy.len()) as u32
    }

    /// Instances handling an event.
    pub fn busy(&self) -> u32 {
        self.busy.len() as u32
    }

    /// Takes a warm idle instance (the one freed last), if any.
    pub fn take_warm(&mut self) -> Option<u32> {
        let n = self.idle.pop_back()?;
        self.busy.insert(n);
        Some(n)
    }

    /// Starts a new instance, busy at once (a cold start).
    pub fn start_new(&mut self) -> u32 {
        let n = self.new_number();
        self.busy.insert(n);
        n
    }

    /// Adds a new idle instance (a process started without an event, e.g. at launch).
    pub fn add_idle(&mut self) -> u32 {
        let n = self.new_number();
        self.idle.push_back(n);
        n
    }

    /// The instance finished its event and waits for the next.
    pub fn release(&mut self, n: u32) {
        if self.busy.remove(&n) {
            self.idle.push_back(n);
        }
    }

    /// The instance died with its event (a crash): it is gone.
    pub fn lose(&mut self, n: u32) {
        self.busy.remove(&n);
        self.idle.retain(|&i| i != n);
    }

    /// Stops up to `count` idle instances, those idle longest first; their numbers.
    pub fn stop_idle(&mut self, count: u32) -> Vec<u32> {
        let count = (count as usize).min(self.idle.len());
        self.idle.drain(..count).collect()
    }

    /// The lowest-numbered running instance (where per-replica work runs), if any.
    pub fn any_running(&self) -> Option<u32> {
        let idle = self.idle.iter().min().copied();
        let busy = self.busy.first().copied();
        match (idle, busy) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_freed_instance_is_reused_before_a_new_one_starts() {
        let mut pool = InstancePool::default();
        let first = pool.start_new();
        pool.release(first);
        assert_eq!(pool.take_warm(), Some(first));
        assert_eq!(pool.take_warm(), None);
        assert_eq!(pool.start_new(), 2);
    }

    #[test]
    fn scale_in_stops_the_instance_idle_longest() {
        let mut pool = InstancePool::default();
        let (a, b, c) = (pool.start_new(), pool.start_new(), pool.start_new());
        pool.release(b);
        pool.release(a);
        pool.release(c);
        assert_eq!(pool.stop_idle(2), vec![b, a]);
        assert_eq!(pool.running(), 1);
        assert_eq!(pool.take_warm(), Some(c));
    }

    #[test]
    fn a_crashed_instance_is_gone_and_its_number_never_comes_back() {
        let mut pool = InstancePool::with_idle(1);
        let n = pool.take_warm().unwrap();
        pool.lose(n);
        assert_eq!(pool.running(), 0);
        assert_eq!(pool.start_new(), 2);
    }

    proptest! {
        /// However events come and go, every running instance is idle or busy (never both),
        /// numbers are unique, and no busy instance is handed out twice.
        #[test]
        fn idle_and_busy_partition_the_running_instances(ops in proptest::collection::vec(0u8..5, 0..200)) {
            let mut pool = InstancePool::default();
            let mut held: Vec<u32> = Vec::new();
            for op in ops {
                match op {
                    0 => held.push(pool.start_new()),
                    1 => if let Some(n) = pool.take_warm() {
                        prop_assert!(!held.contains(&n));
                        held.push(n);
                    },
                    2 => if let Some(n) = held.pop() { pool.release(n) },
                    3 => if let Some(n) = held.pop() { pool.lose(n) },
                    _ => { pool.stop_idle(1); },
                }
                prop_assert_eq!(pool.busy() as usize, held.len());
                let mut all: Vec<u32> = pool.idle.iter().chain(pool.busy.iter()).copied().collect();
                let len = all.len();
                all.sort_unstable();
                all.dedup();
                prop_assert_eq!(all.len(), len);
            }
        }
    }
}
