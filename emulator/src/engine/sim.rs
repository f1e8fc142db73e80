//! The simulation: one deterministic state machine per concept, driven by a virtual clock and
//! a seeded RNG, applying one platform profile. Engine code reads the profile; it does not
//! branch on the platform's name.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use alien_providers::Payload;
use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::commands::{CommandRt, CommandTimer};
use super::daemon::{DaemonAction, DaemonRt, DaemonTimer};
use super::events::{Event, StorageEvent};
use super::faults::Faults;
use super::handler::Handler;
use super::instances::InstancePool;
use super::kv::KvStore;
use super::trace::{Kind, Trace};
use crate::clock::{TimerId, VirtualClock};
use crate::profile::Profile;
use crate::stack::Stack;

/// How a simulation starts.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: u64,
    pub start: DateTime<Utc>,
    /// Whether new instances pay the profile's cold-start latency.
    pub cold_starts: bool,
    /// A fixed cold-start latency instead of the profile's range.
    pub cold_start_override: Option<Duration>,
    /// Chaos: every external worker's process is recycled after each invocation.
    pub recycle: bool,
    /// How long an instance stays warm after its last invocation before scaling to zero.
    pub idle_timeout: Duration,
    pub faults: Faults,
    /// Each `sent` event carries the payload (up to [`TRACED_PAYLOAD_CHARS`]) for reports that
    /// show it (`alien simulate --html`); off where the trace is stored or streamed.
    pub trace_payloads: bool,
    /// `alien emulate --max-instances`: the most instances (real processes) of one worker
    /// run at once on this machine. Past it work waits for a free instance; the platform's
    /// own limit, which throttles, is the profile's.
    pub max_local_instances: Option<u32>,
}

/// Most characters of a payload a `sent` event carries when payloads are traced.
pub const TRACED_PAYLOAD_CHARS: usize = 4096;

impl SimConfig {
    pub fn new(seed: u64, start: DateTime<Utc>) -> SimConfig {
        SimConfig {
            seed,
            start,
            cold_starts: true,
            cold_start_override: None,
            recycle: false,
            // [platform knowledge] serverless platforms keep idle instances for minutes.
            idle_timeout: Duration::from_secs(15 * 60),
            faults: Faults::default(),
            trace_payloads: false,
            max_local_instances: None,
        }
    }
}

/// Errors an action can return (bad input from a scenario or API caller).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("no {kind} named '{name}' in the stack")]
    UnknownResource { kind: &'static str, name: String },
    #[error("{0}")]
    Provider(#[from] alien_providers::ProviderError),
    #[error("{0}")]
    Invalid(String),
    #[error("the simulation did not settle: {0}")]
    StepLimit(String),
}

/// Everything a timer can mean.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Timer {
    LeaseExpiry {
        queue: usize,
        sub: usize,
        msg: u64,
        receipt: u64,
    },
    Retention {
        queue: usize,
        sub: usize,
        msg: u64,
    },
    PushResume {
        queue: usize,
        sub: usize,
    },
    InvocationEnd {
        inv: u64,
    },
    ScaleIn {
        worker: usize,
    },
    CronFire {
        trigger: usize,
    },
    EventRetry {
        worker: usize,
        event: Box<Event>,
        attempt: u32,
    },
    HttpDeadline {
        worker: usize,
        request: String,
    },
    DowntimeEnd,
    Daemon(DaemonTimer),
    Command(CommandTimer),
}

/// What a queue message carries: an app payload, or a storage notification riding a
/// platform queue (GCS → Pub/Sub, Event Grid → Service Bus).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    Payload(Payload),
    Storage(StorageEvent),
}

#[derive(Debug, Clone)]
pub(crate) struct Msg {
    pub id: String,
    pub body: Body,
    pub enqueued_at: DateTime<Utc>,
    pub receive_count: u32,
    pub lease: Option<Lease>,
    /// The receipt of the latest delivery (an ack with it succeeds until the next delivery).
    pub last_receipt: Option<u64>,
    /// The retention timer, cancelled when the message leaves earlier.
    pub retention: Option<TimerId>,
}

#[derive(Debug, Clone)]
pub(crate) struct Lease {
    pub receipt: u64,
    pub timer: TimerId,
    /// How long it was taken or last renewed for (`None`: taken before a restart).
    pub length: Option<Duration>,
    /// A handler is running on this delivery (leases some triggers keep renewing).
    pub running: bool,
}

/// One subscription (competing consumers share one; fan-out has one per triggered worker).
#[derive(Debug, Clone)]
pub(crate) struct Sub {
    pub name: String,
    pub consumers: Vec<usize>,
    pub lease: Duration,
    pub msgs: BTreeMap<u64, Msg>,
    pub ready: BTreeSet<u64>,
    pub next_consumer: usize,
    /// Push backoff: the current pause after failed pushes, and when delivery resumes.
    pub backoff: Option<Duration>,
    pub paused_until: Option<DateTime<Utc>>,
    /// Messages a trigger received but could not invoke (throttled), by sequence, with the
    /// receipt of that receive: held until that lease runs out.
    pub throttled: BTreeMap<u64, u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct QueueRt {
    pub id: String,
    /// Internal queues carry storage notifications; they are not in the stack.
    pub internal: bool,
    pub subs: Vec<Sub>,
    pub dead_letters: Vec<DeadLetter>,
    /// Queue-level settings over the profile's (see [`Sim::set_queue_settings`]).
    pub settings: super::queue_settings::QueueSettings,
}

/// A message moved to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeadLetter {
    pub id: String,
    pub subscription: String,
    pub receive_count: u32,
    pub at: DateTime<Utc>,
    pub payload: Option<Payload>,
}

/// Work waiting for a worker's slot.
#[derive(Debug, Clone)]
pub(crate) struct Work {
    pub event: Event,
    pub origin: Origin,
    /// Whether this work takes an instance slot and may start a new instance. A per-replica
    /// cron fire does neither: it runs inside the replica that fired it.
    pub scale_out: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Origin {
    Queue {
        queue: usize,
        sub: usize,
        msg: u64,
        receipt: u64,
    },
    Event {
        attempt: u32,
    },
    Command {
        command: usize,
    },
    Http {
        request: String,
    },
}

pub(crate) struct WorkerRt {
    pub id: String,
    pub timeout: Duration,
    pub public: bool,
    /// The running instances, each named by its number.
    pub pool: InstancePool,
    pub min_instances: u32,
    /// The platform's limit (`concurrencyLimit` or its default): past it the platform throttles.
    pub max_instances: u32,
    /// Most invocations running at once since the last scale-in check.
    pub peak: u32,
    pub scale_in_pending: bool,
    pub pending: VecDeque<Work>,
    pub handler: Option<Box<dyn Handler>>,
    /// Handled by a real process through the outbox.
    pub external: bool,
    /// Instances of an external worker stopped (scale-in, scale to zero, recycling, a crash)
    /// since the last [`Sim::take_stopped_instances`].
    pub stopped: Vec<u32>,
}

#[derive(Debug, Clone)]
pub(crate) enum InvocationEnd {
    Succeeded { status: u16, body_bytes: u64 },
    Failed(String),
    TimedOut(Duration),
    Crashed,
}

#[derive(Debug, Clone)]
pub(crate) struct Invocation {
    pub worker: usize,
    pub event: Event,
    pub origin: Origin,
    pub started_at: DateTime<Utc>,
    pub end: InvocationEnd,
    pub uses_slot: bool,
    /// The instance handling it.
    pub instance: Option<u32>,
    /// The timeout timer of an attempt handled by a real process.
    pub timer: Option<TimerId>,
}

/// An attempt handed to a real process (`alien emulate`).
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    pub invocation: u64,
    pub worker: String,
    pub event: Event,
    pub attempt: u32,
    /// How long the platform lets the attempt run.
    pub timeout: Duration,
    /// The cold start this attempt pays before the process sees it (zero when warm).
    pub cold_start: Duration,
    /// A `handler_crash` fault struck: the process is to die while handling the attempt.
    pub crash: bool,
    /// The instance (process) that handles it; `None` when none runs (per-replica work with
    /// no replica).
    pub instance: Option<u32>,
}

pub(crate) struct CronTrigger {
    pub worker: usize,
    pub expr: String,
    /// The slot of the last fire (for catch-up after a restart).
    pub last_fired: Option<DateTime<Utc>>,
    pub schedule: Option<crate::cron::Schedule>,
    pub schedule_name: String,
    pub next: Option<DateTime<Utc>>,
    pub missed: Option<DateTime<Utc>>,
}

/// The result of an HTTP request through a public endpoint.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HttpResult {
    pub status: u16,
    pub at: DateTime<Utc>,
    pub reason: String,
}

/// A running simulation.
pub struct Sim {
    pub(crate) clock: VirtualClock<Timer>,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) profile: Profile,
    pub(crate) stack: Stack,
    pub(crate) config: SimConfig,
    pub(crate) trace: Trace,
    pub(crate) queues: Vec<QueueRt>,
    pub(crate) queue_index: BTreeMap<String, usize>,
    pub(crate) workers: Vec<WorkerRt>,
    pub(crate) worker_index: BTreeMap<String, usize>,
    pub(crate) invocations: BTreeMap<u64, Invocation>,
    pub(crate) buckets: BTreeMap<String, super::storage::Bucket>,
    pub(crate) storage_routes: BTreeMap<(usize, String), usize>,
    pub(crate) kv: BTreeMap<String, KvStore>,
    pub(crate) crons: Vec<CronTrigger>,
    pub(crate) daemons: Vec<DaemonRt>,
    pub(crate) commands: Vec<CommandRt>,
    pub(crate) http: BTreeMap<String, HttpResult>,
    pub(crate) down_until: Option<DateTime<Utc>>,
    pub(crate) outbox: Vec<Dispatch>,
    /// Starts and signals for daemons run as real processes.
    pub(crate) daemon_outbox: Vec<DaemonAction>,
    pub(crate) counter: u64,
    /// Keys changed since the last [`Sim::take_changes`] (only while a store tracks them).
    pub(crate) dirty: Option<super::changes::Dirty>,
    /// Work a restore found for the processes, handed out by [`Sim::resume_deliveries`]
    /// once they are attached: worker commands to push again, cron slots to catch up.
    pub(crate) resume_commands: Vec<usize>,
    pub(crate) resume_crons: Vec<(usize, DateTime<Utc>)>,
}

/// Upper bound on timers fired by one `advance` (a guard against handlers that loop).
const MAX_STEPS: usize = 50_000_000;

impl Sim {
    /// A simulation of `stack` under `profile`. Resources are created as the platform would
    /// provision them; daemons start at once where the platform supports them.
    pub fn new(stack: &Stack, profile: Profile, config: SimConfig) -> Sim {
        let mut sim = Sim {
            clock: VirtualClock::new(config.start),
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            trace: Trace::new(config.start),
            profile,
            stack: stack.clone(),
            config,
            queues: Vec::new(),
            queue_index: BTreeMap::new(),
            workers: Vec::new(),
            worker_index: BTreeMap::new(),
            invocations: BTreeMap::new(),
            buckets: BTreeMap::new(),
            storage_routes: BTreeMap::new(),
            kv: BTreeMap::new(),
            crons: Vec::new(),
            daemons: Vec::new(),
            commands: Vec::new(),
            http: BTreeMap::new(),
            down_until: None,
            outbox: Vec::new(),
            daemon_outbox: Vec::new(),
            counter: 0,
            dirty: None,
            resume_commands: Vec::new(),
            resume_crons: Vec::new(),
        };
        sim.provision_workers();
        sim.provision_queues();
        sim.provision_storage();
        sim.provision_kv();
        sim.provision_crons();
        sim.provision_daemons();
        sim
    }

    /// Installs the handler of a worker or daemon (workers without one succeed at once).
    pub fn set_handler(
        &mut self,
        resource: &str,
        handler: Box<dyn Handler>,
    ) -> Result<(), SimError> {
        if let Some(&w) = self.worker_index.get(resource) {
            self.workers[w].handler = Some(handler);
            return Ok(());
        }
        if let Some(d) = self.daemons.iter_mut().find(|d| d.id == resource) {
            d.handler = Some(handler);
            return Ok(());
        }
        Err(SimError::UnknownResource {
            kind: "worker or daemon",
            name: resource.into(),
        })
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The earliest pending timer (the real-time driver sleeps until then).
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        self.clock.next_deadline()
    }

    pub fn stack_id(&self) -> &str {
        &self.stack.id
    }

    pub fn seed(&self) -> u64 {
        self.config.seed
    }

    /// Arms a one-shot fault for its next opportunity.
    pub fn inject(&mut self, fault: super::faults::FaultKind) {
        self.config.faults.arm(fault);
    }

    /// Runs every timer due within `d` and moves the clock forward by `d`.
    pub fn advance(&mut self, d: Duration) -> Result<(), SimError> {
        let until =
            self.clock.now() + chrono::Duration::from_std(d).unwrap_or(chrono::TimeDelta::MAX);
        self.run_until(until)
    }

    /// Runs timers up to `until`.
    pub fn run_until(&mut self, until: DateTime<Utc>) -> Result<(), SimError> {
        let mut steps = 0usize;
        while let Some(fired) = self.clock.pop_next(until) {
            steps += 1;
            if steps > MAX_STEPS {
                return Err(SimError::StepLimit(format!(
                    "more than {MAX_STEPS} timers before {until}"
                )));
            }
            self.dispatch(fired.key);
        }
        self.clock.advance_to(until);
        Ok(())
    }

    pub(crate) fn next_id(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    pub(crate) fn record(
        &mut self,
        kind: Kind,
        resource: &str,
        subject: Option<&str>,
        detail: Vec<(&str, String)>,
    ) {
        let now = self.clock.now();
        self.trace.push(now, kind, resource, subject, detail);
    }

    pub(crate) fn schedule_in(&mut self, delay: Duration, timer: Timer) -> TimerId {
        self.clock.schedule_in(delay, timer)
    }

    pub(crate) fn schedule_at(&mut self, at: DateTime<Utc>, timer: Timer) -> TimerId {
        self.clock.schedule_at(at, timer)
    }

    pub(crate) fn is_down(&self) -> bool {
        self.down_until
            .is_some_and(|until| self.clock.now() < until)
    }

    pub(crate) fn dispatch(&mut self, timer: Timer) {
        match timer {
            Timer::LeaseExpiry {
                queue,
                sub,
                msg,
                receipt,
            } => self.on_lease_expiry(queue, sub, msg, receipt),
            Timer::Retention { queue, sub, msg } => self.on_retention(queue, sub, msg),
            Timer::PushResume { queue, sub } => self.on_push_resume(queue, sub),
            Timer::InvocationEnd { inv } => self.on_invocation_end(inv),
            Timer::ScaleIn { worker } => self.on_scale_in(worker),
            Timer::CronFire { trigger } => self.on_cron_fire(trigger),
            Timer::EventRetry {
                worker,
                event,
                attempt,
            } => self.enqueue_work(
                worker,
                Work {
                    event: *event,
                    origin: Origin::Event { attempt },
                    scale_out: true,
                },
            ),
            Timer::HttpDeadline { worker, request } => self.on_http_deadline(worker, &request),
            Timer::DowntimeEnd => self.on_downtime_end(),
            Timer::Daemon(t) => self.on_daemon_timer(t),
            Timer::Command(t) => self.on_command_timer(t),
        }
    }
}
