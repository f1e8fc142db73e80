//! What one worker instance runs inside on a platform: its memory, its CPU share, its
//! scratch disk, and how the platform reports an instance killed for exceeding its memory.

use serde::Serialize;

use super::value::Sourced;

/// The per-instance limits of a platform; each value with its source.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceLimitsProfile {
    /// Whether the platform holds an instance to `memoryMb` (kills it past it).
    pub memory_enforced: Sourced<bool>,
    /// The CPU an instance gets.
    pub cpu: Sourced<CpuShare>,
    /// Writable scratch space an instance gets.
    pub scratch: Sourced<ScratchDisk>,
    /// How the platform reports an instance killed past its memory (`None` = never killed).
    pub out_of_memory: Sourced<Option<OutOfMemoryReport>>,
}

/// Thousandths of a vCPU.
pub type MilliCpus = u32;

/// The CPU share rule of a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum CpuShare {
    /// CPU in proportion to memory: one vCPU per `mb_per_vcpu` MB.
    ProportionalToMemory { mb_per_vcpu: u32 },
    /// A fixed share whatever the memory.
    Fixed { millicpus: MilliCpus },
    /// No CPU limit: the host's CPUs.
    Unlimited,
}

impl CpuShare {
    /// The share for an instance of `memory_mb`, rounded down to a thousandth of a vCPU and
    /// never below one (`None` = unlimited).
    pub fn millicpus(&self, memory_mb: u32) -> Option<MilliCpus> {
        match *self {
            CpuShare::ProportionalToMemory { mb_per_vcpu } => {
                let share = u64::from(memory_mb) * 1000 / u64::from(mb_per_vcpu.max(1));
                Some(u32::try_from(share).unwrap_or(u32::MAX).max(1))
            }
            CpuShare::Fixed { millicpus } => Some(millicpus),
            CpuShare::Unlimited => None,
        }
    }
}

/// The writable scratch space of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ScratchDisk {
    /// A disk of `mb` at `path`, apart from memory (Lambda `/tmp`).
    Disk { path: &'static str, mb: u32 },
    /// A disk whose size follows the CPU share: the first tier whose `up_to_millicpus` is at
    /// least the share, else `mb_above` (Container Apps ephemeral storage).
    DiskByCpu { tiers: Vec<CpuTier>, mb_above: u32 },
    /// An in-memory filesystem: what is written counts against the instance's memory.
    InMemory,
    /// The host's (or node's) disk, with no limit of its own.
    HostDisk,
}

/// One step of [`ScratchDisk::DiskByCpu`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuTier {
    pub up_to_millicpus: MilliCpus,
    pub mb: u32,
}

/// The scratch space an instance of `memory_mb` with `cpu` gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScratchSize {
    /// A disk limited to this many MB.
    DiskMb(u32),
    /// Counted against memory.
    InMemory,
    /// Not limited by the platform.
    Unlimited,
}

impl ScratchDisk {
    pub fn size(&self, millicpus: Option<MilliCpus>) -> ScratchSize {
        match self {
            ScratchDisk::Disk { mb, .. } => ScratchSize::DiskMb(*mb),
            ScratchDisk::DiskByCpu { tiers, mb_above } => {
                let share = millicpus.unwrap_or(MilliCpus::MAX);
                let mb = tiers
                    .iter()
                    .find(|tier| share <= tier.up_to_millicpus)
                    .map_or(*mb_above, |tier| tier.mb);
                ScratchSize::DiskMb(mb)
            }
            ScratchDisk::InMemory => ScratchSize::InMemory,
            ScratchDisk::HostDisk => ScratchSize::Unlimited,
        }
    }
}

/// The platform's own words for an instance killed past its memory. `message` may hold
/// `{limit_mb}` and `{used_mb}`, filled in by [`OutOfMemoryReport::render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutOfMemoryReport {
    /// The error type or reason the platform records (`Runtime.ExitError`, `OOMKilled`).
    pub error_type: &'static str,
    pub message: &'static str,
}

impl OutOfMemoryReport {
    /// The message for an instance limited to `limit_mb` that used `used_mb` at its peak
    /// (`?` when unknown).
    pub fn render(&self, limit_mb: u32, used_mb: Option<u64>) -> String {
        let used = used_mb.map_or_else(|| "?".to_string(), |mb| mb.to_string());
        self.message
            .replace("{limit_mb}", &limit_mb.to_string())
            .replace("{used_mb}", &used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Lambda docs (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html):
    /// "At 1,769 MB, a function has the equivalent of one vCPU".
    #[test]
    fn lambda_has_one_vcpu_at_1769_mb() {
        let lambda = CpuShare::ProportionalToMemory { mb_per_vcpu: 1769 };
        assert_eq!(lambda.millicpus(1769), Some(1000));
        assert_eq!(lambda.millicpus(3538), Some(2000));
        assert_eq!(lambda.millicpus(128), Some(72));
        assert_eq!(lambda.millicpus(10_240), Some(5788));
        assert_eq!(CpuShare::Unlimited.millicpus(128), None);
        assert_eq!(
            CpuShare::Fixed { millicpus: 1000 }.millicpus(128),
            Some(1000)
        );
    }

    proptest! {
        /// The share is memory / mb_per_vcpu rounded down to a thousandth, grows with memory,
        /// and is never zero.
        #[test]
        fn proportional_share_is_memory_over_mb_per_vcpu(
            memory_mb in 1u32..=32_768,
            extra in 0u32..=4096,
            mb_per_vcpu in 1u32..=4096,
        ) {
            let rule = CpuShare::ProportionalToMemory { mb_per_vcpu };
            let share = rule.millicpus(memory_mb).unwrap();
            prop_assert!(share >= 1);
            let exact = u64::from(memory_mb) * 1000;
            let per = u64::from(mb_per_vcpu);
            prop_assert!(u64::from(share) * per <= exact.max(per));
            prop_assert!(exact < (u64::from(share) + 1) * per);
            prop_assert!(rule.millicpus(memory_mb + extra).unwrap() >= share);
        }
    }

    /// Container Apps (https://learn.microsoft.com/azure/container-apps/storage-mounts):
    /// 0.25 vCPU or lower 1 GiB, 0.5 or lower 2 GiB, 1 or lower 4 GiB, over 1 8 GiB.
    #[test]
    fn container_apps_scratch_follows_the_cpu_tiers() {
        let disk = ScratchDisk::DiskByCpu {
            tiers: vec![
                CpuTier {
                    up_to_millicpus: 250,
                    mb: 1024,
                },
                CpuTier {
                    up_to_millicpus: 1000,
                    mb: 4096,
                },
            ],
            mb_above: 8192,
        };
        assert_eq!(disk.size(Some(250)), ScratchSize::DiskMb(1024));
        assert_eq!(disk.size(Some(251)), ScratchSize::DiskMb(4096));
        assert_eq!(disk.size(Some(1001)), ScratchSize::DiskMb(8192));
        assert_eq!(disk.size(None), ScratchSize::DiskMb(8192));
    }

    /// Cloud Run's log line (https://cloud.google.com/run/docs/configuring/memory-limits).
    #[test]
    fn the_report_fills_in_limit_and_peak() {
        let report = OutOfMemoryReport {
            error_type: "MemoryLimitExceeded",
            message: "Memory limit of {limit_mb} MiB exceeded with {used_mb} MiB used.",
        };
        assert_eq!(
            report.render(512, Some(534)),
            "Memory limit of 512 MiB exceeded with 534 MiB used."
        );
        assert_eq!(
            report.render(512, None),
            "Memory limit of 512 MiB exceeded with ? MiB used."
        );
    }
}
