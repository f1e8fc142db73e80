//! Known differences of a target from its platform's facts, each matched on the case, the
//! observation and the value the target showed, with its reason. Any other difference fails
//! the run, so a new difference in a case with a known gap is still caught.

/// A documented difference, matched on `(target, case, what, observed)`.
#[derive(Debug)]
pub struct KnownGap {
    pub target: &'static str,
    pub case: &'static str,
    /// The observation that differs; [`ERROR`] for a case that stopped with an error.
    pub what: &'static str,
    /// The value the target showed; for [`ERROR`], a fragment of the error message.
    pub observed: &'static str,
    pub reason: &'static str,
}

/// The `what` of a gap that is an error stopping the case.
pub const ERROR: &str = "error";

impl KnownGap {
    /// Whether this gap explains `what` = `seen` of `case` on `target`.
    pub fn explains(&self, target: &str, case: &str, what: &str, seen: &str) -> bool {
        self.target == target
            && self.case == case
            && self.what == what
            && if what == ERROR {
                seen.contains(self.observed)
            } else {
                seen == self.observed
            }
    }
}

/// Peer gaps measured on this kind of machine (scripts/peers/README.md).
pub const KNOWN_GAPS: &[KnownGap] = &[
    KnownGap {
        target: "pubsub-emulator",
        case: "pubsub-push-failing-receiver",
        what: "pauses",
        observed: "flat",
        reason: "Google's Pub/Sub emulator does not model push backoff: it pushes to a failing endpoint about once a second (peers-2026.md, measured on this machine; Google says the emulator may differ from the service). The real service pauses 100 ms to 60 s after failures, as the gcp profile does",
    },
    KnownGap {
        target: "pubsub-emulator",
        case: "queue-input-rules",
        what: "renew 60 s",
        observed: "Unsupported",
        reason: "google-cloud-pubsub 1.7 receives only through streaming pull and exposes no per-message ModifyAckDeadline, so the GCP adapter cannot renew one lease (Pub/Sub itself can: ModifyAckDeadline)",
    },
    KnownGap {
        target: "moto",
        case: "schedule-both-day-fields",
        what: "0 12 1 * 1",
        observed: "registered",
        reason: "moto accepts any ScheduleExpression without validating it (issue 6: \"invalid cron accepted\")",
    },
    KnownGap {
        target: "moto",
        case: "storage-notification-to-queue",
        what: "event",
        observed: "created in%2Fa.txt 5",
        reason: "moto percent-encodes '/' in a notification's object key (in%2Fa.txt); LocalStack sends in/a.txt. The S3 docs say keys are URL-encoded (\"red flower.jpg\" becomes \"red+flower.jpg\") and say nothing of '/'; upstream passes the key on undecoded, so an app on moto sees in%2Fa.txt",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_matches_only_its_observed_value() {
        let gap = KNOWN_GAPS
            .iter()
            .find(|g| g.target == "moto" && g.case == "schedule-both-day-fields")
            .expect("listed");
        assert!(gap.explains(
            "moto",
            "schedule-both-day-fields",
            "0 12 1 * 1",
            "registered"
        ));
        assert!(!gap.explains("moto", "schedule-both-day-fields", "0 12 1 * 1", "Internal"));
        assert!(!gap.explains(
            "localstack",
            "schedule-both-day-fields",
            "0 12 1 * 1",
            "registered"
        ));
    }

    #[test]
    fn an_error_gap_matches_a_fragment_of_the_message() {
        let gap = KnownGap {
            target: "t",
            case: "c",
            what: ERROR,
            observed: "RedrivePolicy is not supported",
            reason: "r",
        };
        assert!(gap.explains("t", "c", ERROR, "400: RedrivePolicy is not supported by …"));
        assert!(!gap.explains("t", "c", ERROR, "connection refused"));
    }
}
