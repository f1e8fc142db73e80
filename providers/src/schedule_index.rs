//! The `index` in a cron trigger's platform name (`{prefix}-{worker}-cron-{index}`): counted
//! per worker, as upstream numbers a worker's triggers (upstream-cloud-semantics.md §6).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

/// The next index per worker, shared by the adapters that name schedules this way.
#[derive(Debug, Default)]
pub(crate) struct TriggerIndices(Mutex<BTreeMap<String, u32>>);

impl TriggerIndices {
    fn indices(&self) -> MutexGuard<'_, BTreeMap<String, u32>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes the next index for `target`.
    pub(crate) fn reserve(&self, target: &str) -> u32 {
        let mut indices = self.indices();
        let next = indices.entry(target.to_owned()).or_insert(0);
        *next += 1;
        *next - 1
    }

    /// Gives `index` back unless a later registration for `target` took the next one.
    pub(crate) fn release(&self, target: &str, index: u32) {
        if let Some(next) = self.indices().get_mut(target)
            && *next == index + 1
        {
            *next = index;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // upstream-cloud-semantics.md §6: `{prefix}-{id}-cron-{i}`, i counted per worker.
    #[test]
    fn indices_count_per_target() {
        let indices = TriggerIndices::default();
        assert_eq!(indices.reserve("a"), 0);
        assert_eq!(indices.reserve("a"), 1);
        assert_eq!(indices.reserve("b"), 0);
    }

    // A refused registration gives its index back unless a later one already took the next.
    #[test]
    fn refused_registration_releases_its_index() {
        let indices = TriggerIndices::default();
        let first = indices.reserve("a");
        indices.release("a", first);
        assert_eq!(indices.reserve("a"), 0);
        let taken = indices.reserve("a");
        let later = indices.reserve("a");
        indices.release("a", taken);
        assert_eq!((taken, later, indices.reserve("a")), (1, 2, 3));
    }
}
