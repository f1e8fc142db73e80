//! Chaos at delivery time (anchors.md §14 item 4): a duplicate delivery, or a lease that runs
//! out while the handler runs. Either makes the message come back through the same path a
//! lease that runs out takes, so a message at its maximum deliveries is dead-lettered instead
//! of being handed out again (Service Bus MaxDeliveryCount 10, upstream-stack-and-limits.md
//! §6.2; found by `alien chaos`, scenarios/regressions/regression-seeded-faults-at-least-once-
//! azure-seed20-dead-letter-threshold.toml).

use super::causes::Release;
use super::faults::FaultKind;
use super::sim::{Origin, Sim};
use super::trace::Kind;

/// The delivery faults, in the order their chance is drawn, with their trace names and why
/// the message comes back.
const DELIVERY_FAULTS: [(FaultKind, &str, &str); 2] = [
    (
        FaultKind::LeaseExpiry,
        "lease_expiry",
        "lease expired while the handler runs (fault)",
    ),
    (
        FaultKind::DuplicateDelivery,
        "duplicate_delivery",
        "duplicate delivery (fault)",
    ),
];

impl Sim {
    /// Draws the delivery faults for a queue delivery to `worker`; at most one strikes.
    pub(super) fn apply_delivery_faults(&mut self, origin: &Origin, worker: &str) {
        let Origin::Queue {
            queue, sub, msg, ..
        } = *origin
        else {
            return;
        };
        for (kind, name, why) in DELIVERY_FAULTS {
            if self.config.faults.strikes(kind, &mut self.rng) {
                self.record(Kind::Fault, worker, None, vec![("fault", name.into())]);
                self.redeliver(queue, sub, msg, Release::Fault(why));
                return;
            }
        }
    }
}
