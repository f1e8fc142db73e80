//! Seeded faults: probabilities per kind, plus one-shot injections from a scenario timeline.
//! Every decision draws from the simulation's seeded RNG, so a seed replays the same faults.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The faults the simulator can inject (anchors.md §14 item 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A delivered queue message is delivered a second time.
    DuplicateDelivery,
    /// A successful handler's ack is lost, so the message comes back after its lease.
    LostAck,
    /// The handler's process dies mid-invocation.
    HandlerCrash,
    /// The message's lease runs out while the handler is still running.
    LeaseExpiry,
    /// A cron slot fires twice.
    CronDoubleFire,
    /// A cron slot does not fire.
    CronSkip,
    /// A cold start takes ten times its usual latency.
    ColdStartSpike,
    /// A running daemon crashes.
    DaemonCrash,
    /// A running daemon is sent SIGTERM (preemption).
    DaemonSigterm,
}

impl FaultKind {
    /// Every fault kind, in declaration order.
    pub const ALL: [FaultKind; 9] = [
        FaultKind::DuplicateDelivery,
        FaultKind::LostAck,
        FaultKind::HandlerCrash,
        FaultKind::LeaseExpiry,
        FaultKind::CronDoubleFire,
        FaultKind::CronSkip,
        FaultKind::ColdStartSpike,
        FaultKind::DaemonCrash,
        FaultKind::DaemonSigterm,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::DuplicateDelivery => "duplicate_delivery",
            FaultKind::LostAck => "lost_ack",
            FaultKind::HandlerCrash => "handler_crash",
            FaultKind::LeaseExpiry => "lease_expiry",
            FaultKind::CronDoubleFire => "cron_double_fire",
            FaultKind::CronSkip => "cron_skip",
            FaultKind::ColdStartSpike => "cold_start_spike",
            FaultKind::DaemonCrash => "daemon_crash",
            FaultKind::DaemonSigterm => "daemon_sigterm",
        }
    }
}

/// Probability of each fault at each opportunity, and pending one-shot injections.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    rates: Vec<(FaultKind, f64)>,
    armed: Vec<FaultKind>,
}

impl Faults {
    pub fn with_rates(rates: impl IntoIterator<Item = (FaultKind, f64)>) -> Faults {
        let mut rates: Vec<(FaultKind, f64)> = rates.into_iter().collect();
        rates.sort_by_key(|(k, _)| *k);
        Faults {
            rates,
            armed: Vec::new(),
        }
    }

    /// Arms `kind` to fire at its next opportunity.
    pub fn arm(&mut self, kind: FaultKind) {
        self.armed.push(kind);
    }

    /// Whether `kind` strikes at this opportunity. An armed injection always strikes (once);
    /// otherwise the rate is drawn from `rng` — only when a rate is set, so adding a fault
    /// kind to a scenario does not shift the random stream of the others.
    pub fn strikes(&mut self, kind: FaultKind, rng: &mut ChaCha8Rng) -> bool {
        if let Some(pos) = self.armed.iter().position(|k| *k == kind) {
            self.armed.remove(pos);
            return true;
        }
        match self.rates.iter().find(|(k, _)| *k == kind) {
            Some((_, p)) if *p > 0.0 => rng.random_bool(p.clamp(0.0, 1.0)),
            _ => false,
        }
    }
}

impl super::sim::Sim {
    /// Replaces the fault rates (and, with `seed`, restarts the random stream from it), as
    /// the control API's fault toggles do. Pending one-shot injections are kept.
    pub fn set_fault_rates(&mut self, rates: Vec<(FaultKind, f64)>, seed: Option<u64>) {
        let armed = std::mem::take(&mut self.config.faults.armed);
        self.config.faults = Faults::with_rates(rates);
        self.config.faults.armed = armed;
        if let Some(seed) = seed {
            use rand::SeedableRng;
            self.config.seed = seed;
            self.rng = ChaCha8Rng::seed_from_u64(seed);
        }
    }

    /// The fault rates in force.
    pub fn fault_rates(&self) -> &[(FaultKind, f64)] {
        &self.config.faults.rates
    }

    /// Chaos: recycle every real worker process after each invocation (on) or not (off).
    pub fn set_recycle(&mut self, on: bool) {
        self.config.recycle = on;
    }

    pub fn recycling(&self) -> bool {
        self.config.recycle
    }
}
