//! Commands (arc.v1): pushed to command-enabled workers as tasks; leased by command-enabled
//! daemons, scripted ones that poll or real receivers through the commands API; states
//! PENDING → DISPATCHED → SUCCEEDED | FAILED | EXPIRED, attempts, leases and deadlines
//! (upstream-runtime-and-bindings.md §5; published-3.3.49.md §10).
//!
//! Errors of the receiver-facing operations ([`CommandError`]) carry upstream's error codes
//! ([`CommandError::code`]) so an HTTP front can map them without matching on variants.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::events::{CommandEvent, Event};
use super::handler::{HandlerCtx, HandlerResult};
use super::sim::{InvocationEnd, Origin, Sim, SimError, Timer, Work};
use super::trace::Kind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CommandState {
    Pending,
    Dispatched,
    Succeeded,
    Failed,
    Expired,
}

impl CommandState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            CommandState::Succeeded | CommandState::Failed | CommandState::Expired
        )
    }

    /// The wire name (`CommandState`, SCREAMING_SNAKE, §5.1).
    pub fn as_str(self) -> &'static str {
        match self {
            CommandState::Pending => "PENDING",
            CommandState::Dispatched => "DISPATCHED",
            CommandState::Succeeded => "SUCCEEDED",
            CommandState::Failed => "FAILED",
            CommandState::Expired => "EXPIRED",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Target {
    Worker(usize),
    Daemon(usize),
}

/// Who a command is for (`CommandTarget{resourceId, resourceType}`, §5.1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandTarget {
    pub resource_id: String,
    /// `worker` or `daemon`.
    pub resource_type: &'static str,
}

/// The error half of a `CommandResponse` (`{status:"error", code, message, details?}`, §5.1).
#[derive(Debug, Clone, PartialEq)]
pub struct CommandFailure {
    pub code: String,
    pub message: String,
    pub details: Option<Value>,
}

impl CommandFailure {
    fn new(code: &str, message: impl Into<String>) -> CommandFailure {
        CommandFailure {
            code: code.to_string(),
            message: message.into(),
            details: None,
        }
    }

    /// A worker's `TaskError` reaches the engine as `"CODE: message"`; the app's code is kept
    /// (Rust SDK `COMMAND_ERROR`, TS SDK `ERROR`, §5.4). Any other text is a `COMMAND_ERROR`.
    fn from_task_error(text: &str) -> CommandFailure {
        let coded = text.split_once(": ").filter(|(code, _)| {
            code.starts_with(|c: char| c.is_ascii_uppercase())
                && code
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        });
        match coded {
            Some((code, message)) => CommandFailure::new(code, message),
            None => CommandFailure::new("COMMAND_ERROR", text),
        }
    }
}

/// A command's response: the success bytes or the error (`CommandResponse`, §5.1).
pub type CommandResult = Result<Vec<u8>, CommandFailure>;

pub(crate) struct CommandRt {
    id: String,
    name: String,
    params: Value,
    target: Target,
    state: CommandState,
    attempt: u32,
    deadline: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    idempotency_key: Option<String>,
    /// The live lease (0 = none) and when it runs out.
    lease: u64,
    lease_until: Option<DateTime<Utc>>,
    /// Every lease ever handed out, to tell an ended lease from an unknown one.
    leases: Vec<u64>,
    /// Code and message of a FAILED or EXPIRED command.
    error: Option<(String, String)>,
    /// The response of a SUCCEEDED or FAILED command.
    response: Option<CommandResult>,
    /// The bytes a real worker answered with, until its invocation ends.
    pending_data: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CommandTimer {
    Deadline {
        command: usize,
    },
    LeaseExpiry {
        command: usize,
        lease: u64,
    },
    LeasedDone {
        command: usize,
        lease: u64,
        daemon_epoch: u64,
        result: CommandResult,
    },
}

/// What `command_status` reports (`CommandStatusResponse{commandId, state, attempt, target,
/// response?}`, §5.1), plus the error code scenarios check.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandStatus {
    pub command_id: String,
    pub state: CommandState,
    pub attempt: u32,
    pub target: CommandTarget,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The stored response (its wire form, inline base64 or storage, is the API's business).
    #[serde(skip)]
    pub response: Option<CommandResult>,
}

/// What creating a command through the API gave (`CreateCommandResponse`, published §10).
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    pub command_id: String,
    /// False when an idempotency key returned an existing command.
    pub created: bool,
    pub state: CommandState,
}

/// One lease handed to a receiver (`LeaseInfo` plus what its envelope needs, §5.1).
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseGrant {
    pub lease_id: String,
    pub lease_expires_at: DateTime<Utc>,
    pub command_id: String,
    pub attempt: u32,
    pub name: String,
    pub params: Value,
    pub deadline: Option<DateTime<Utc>>,
    pub target: CommandTarget,
}

/// Why a command operation was refused; [`CommandError::code`] is upstream's error code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    #[error("no worker or daemon named '{0}' in the stack")]
    UnknownTarget(String),
    #[error("{kind} '{id}' does not have commandsEnabled")]
    NotCommandsEnabled { kind: &'static str, id: String },
    #[error(
        "no target given and the stack has {0} command-enabled resources (a default needs exactly one)"
    )]
    NoDefaultTarget(usize),
    #[error("commands for worker '{0}' are pushed to it, not leased")]
    Pushed(String),
    #[error("no command '{0}'")]
    UnknownCommand(String),
    #[error("no lease '{0}'")]
    UnknownLease(String),
    #[error("lease '{lease}' of command '{command}' has already ended")]
    LeaseEnded { lease: String, command: String },
    #[error("command '{id}' is already {}", .state.as_str())]
    Finished { id: String, state: CommandState },
    #[error("command '{id}' is {}: only a DISPATCHED command accepts a response", .state.as_str())]
    NotDispatched { id: String, state: CommandState },
}

impl CommandError {
    /// Upstream's code for this error (alien-commands server error codes).
    pub fn code(&self) -> &'static str {
        match self {
            CommandError::UnknownTarget(_) => "TARGET_NOT_FOUND",
            CommandError::NotCommandsEnabled { .. }
            | CommandError::NoDefaultTarget(_)
            | CommandError::Pushed(_) => "INVALID_COMMAND",
            CommandError::UnknownCommand(_) => "COMMAND_NOT_FOUND",
            CommandError::UnknownLease(_) => "LEASE_NOT_FOUND",
            CommandError::LeaseEnded { .. } => "CONFLICT",
            CommandError::Finished {
                state: CommandState::Expired,
                ..
            } => "COMMAND_EXPIRED",
            CommandError::Finished { .. } => "CONFLICT",
            CommandError::NotDispatched { .. } => "INVALID_STATE_TRANSITION",
        }
    }
}

impl From<CommandError> for SimError {
    fn from(err: CommandError) -> SimError {
        match err {
            CommandError::UnknownTarget(name) => SimError::UnknownResource {
                kind: "worker or daemon",
                name,
            },
            other => SimError::Invalid(other.to_string()),
        }
    }
}

/// Daemon receivers poll every 5 s by default (`ALIEN_COMMANDS_POLL_INTERVAL_MS`) and keep a
/// 5 s safety margin before their lease runs out (`LEASE_SAFETY_MARGIN`).
const POLL_INTERVAL: Duration = Duration::from_secs(5);
const LEASE_SAFETY_MARGIN: Duration = Duration::from_secs(5);

/// How long an idempotency key maps to its command: 24 h (§5.2).
const IDEMPOTENCY_WINDOW: TimeDelta = TimeDelta::hours(24);

/// `t + d`, or the end of time when that does not fit.
fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn lease_name(lease: u64) -> String {
    format!("lease-{lease}")
}

impl Sim {
    /// Creates a command for a command-enabled worker or daemon; returns its id.
    pub fn create_command(
        &mut self,
        target: &str,
        name: &str,
        params: Value,
        deadline: Option<Duration>,
    ) -> Result<String, SimError> {
        let target = self.command_target(target)?;
        let deadline = deadline.map(|d| after(self.now(), d));
        Ok(self.insert_command(target, name, params, deadline, None))
    }

    /// Creates a command from a `CreateCommandRequest` (§5.1–§5.2, published §10): without a
    /// target it goes to the only command-enabled resource; an idempotency key already used in
    /// the last 24 h for the same target and command returns that command (`created: false`).
    /// Request checks (name, deadline in the future) are the API's.
    pub fn create_command_request(
        &mut self,
        target: Option<&str>,
        name: &str,
        params: Value,
        deadline: Option<DateTime<Utc>>,
        idempotency_key: Option<&str>,
    ) -> Result<Created, CommandError> {
        let target = match target {
            Some(t) => self.command_target(t)?,
            None => self.default_command_target()?,
        };
        let now = self.now();
        let twin = idempotency_key.and_then(|key| {
            self.commands.iter().position(|c| {
                c.target == target
                    && c.name == name
                    && c.idempotency_key.as_deref() == Some(key)
                    && c.created_at
                        .checked_add_signed(IDEMPOTENCY_WINDOW)
                        .is_none_or(|end| now < end)
            })
        });
        if let Some(c) = twin {
            self.expire_if_due(c);
            return Ok(Created {
                command_id: self.commands[c].id.clone(),
                created: false,
                state: self.commands[c].state,
            });
        }
        let key = idempotency_key.map(str::to_string);
        let command_id = self.insert_command(target, name, params, deadline, key);
        let state = self.commands[self.commands.len() - 1].state;
        Ok(Created {
            command_id,
            created: true,
            state,
        })
    }

    fn command_target(&self, target: &str) -> Result<Target, CommandError> {
        if let Some(&w) = self.worker_index.get(target) {
            let enabled = self
                .stack
                .workers()
                .any(|(id, wk)| id == target && wk.commands_enabled);
            if !enabled {
                return Err(CommandError::NotCommandsEnabled {
                    kind: "worker",
                    id: target.into(),
                });
            }
            Ok(Target::Worker(w))
        } else if let Some(d) = self.daemons.iter().position(|d| d.id == target) {
            if !self.daemons[d].commands_enabled {
                return Err(CommandError::NotCommandsEnabled {
                    kind: "daemon",
                    id: target.into(),
                });
            }
            Ok(Target::Daemon(d))
        } else {
            Err(CommandError::UnknownTarget(target.into()))
        }
    }

    /// The single-target shorthand: the one command-enabled worker or daemon.
    fn default_command_target(&self) -> Result<Target, CommandError> {
        let workers = self
            .stack
            .workers()
            .filter(|(_, w)| w.commands_enabled)
            .filter_map(|(id, _)| self.worker_index.get(id).map(|&w| Target::Worker(w)));
        let daemons = (0..self.daemons.len())
            .filter(|&d| self.daemons[d].commands_enabled)
            .map(Target::Daemon);
        let all: Vec<Target> = workers.chain(daemons).collect();
        match <[Target; 1]>::try_from(all) {
            Ok([only]) => Ok(only),
            Err(all) => Err(CommandError::NoDefaultTarget(all.len())),
        }
    }

    fn insert_command(
        &mut self,
        target: Target,
        name: &str,
        params: Value,
        deadline: Option<DateTime<Utc>>,
        idempotency_key: Option<String>,
    ) -> String {
        let params_bytes = params.to_string().len() as u64;
        let inline_max = self.profile.commands.inline_max_bytes.value;
        let mode = if params_bytes > inline_max {
            "storage"
        } else {
            "inline"
        };
        let id = format!("cmd-{}", self.next_id());
        let c = self.commands.len();
        self.commands.push(CommandRt {
            id: id.clone(),
            name: name.to_string(),
            params,
            target: target.clone(),
            state: CommandState::Pending,
            attempt: 1,
            deadline,
            created_at: self.now(),
            idempotency_key,
            lease: 0,
            lease_until: None,
            leases: Vec::new(),
            error: None,
            response: None,
            pending_data: None,
        });
        self.mark_command(c);
        let resource = self.target_name(c);
        self.record(
            Kind::CommandCreated,
            &resource,
            Some(&id),
            vec![("name", name.to_string()), ("params", mode.to_string())],
        );
        if let Some(at) = deadline {
            self.schedule_at(at, Timer::Command(CommandTimer::Deadline { command: c }));
        }
        if let Target::Worker(w) = target {
            self.dispatch_to_worker(c, w);
        }
        id
    }

    pub fn command_status(&self, id: &str) -> Option<CommandStatus> {
        let c = self.commands.iter().position(|c| c.id == id)?;
        let cmd = &self.commands[c];
        Some(CommandStatus {
            command_id: cmd.id.clone(),
            state: cmd.state,
            attempt: cmd.attempt,
            target: self.command_target_of(c),
            error_code: cmd.error.as_ref().map(|(code, _)| code.clone()),
            response: cmd.response.clone(),
        })
    }

    /// `GET /commands/{id}`: the status after checking the deadline inline (§5.2: a passed
    /// deadline makes a command EXPIRED on lease, status or reaper).
    pub fn refresh_command_status(&mut self, id: &str) -> Option<CommandStatus> {
        let c = self.commands.iter().position(|c| c.id == id)?;
        self.expire_if_due(c);
        self.command_status(id)
    }

    fn command_idx(&self, id: &str) -> Result<usize, CommandError> {
        self.commands
            .iter()
            .position(|c| c.id == id)
            .ok_or_else(|| CommandError::UnknownCommand(id.into()))
    }

    fn command_target_of(&self, c: usize) -> CommandTarget {
        CommandTarget {
            resource_id: self.target_name(c),
            resource_type: match self.commands[c].target {
                Target::Worker(_) => "worker",
                Target::Daemon(_) => "daemon",
            },
        }
    }

    fn command_event(&self, c: usize) -> Event {
        let cmd = &self.commands[c];
        Event::Command(CommandEvent {
            command_id: cmd.id.clone(),
            name: cmd.name.clone(),
            params: cmd.params.clone(),
            attempt: cmd.attempt,
            deadline: cmd.deadline,
        })
    }

    fn dispatch_to_worker(&mut self, c: usize, w: usize) {
        self.commands[c].state = CommandState::Dispatched;
        self.mark_command(c);
        let (id, worker) = (self.commands[c].id.clone(), self.workers[w].id.clone());
        self.record(
            Kind::CommandDispatched,
            &worker,
            Some(&id),
            vec![(
                "via",
                self.profile.commands.push_transport.value.to_string(),
            )],
        );
        let event = self.command_event(c);
        self.enqueue_work(
            w,
            Work {
                event,
                origin: Origin::Command { command: c },
                scale_out: true,
            },
        );
    }

    /// The bytes a real worker answered a pushed command with (`TaskSuccess{response_data}`),
    /// given before its invocation completes so the SUCCEEDED response carries them (§5.4).
    pub fn set_command_response_data(
        &mut self,
        command_id: &str,
        data: Vec<u8>,
    ) -> Result<(), CommandError> {
        let c = self.command_idx(command_id)?;
        self.commands[c].pending_data = Some(data);
        Ok(())
    }

    /// A pushed command's invocation ended: the app's result becomes the response; a
    /// `"CODE: message"` failure keeps the app's code (§5.4).
    pub(crate) fn settle_command(&mut self, c: usize, end: &InvocationEnd) {
        let data = self.commands[c].pending_data.take();
        let result = match end {
            InvocationEnd::Succeeded { .. } => Ok(data.unwrap_or_default()),
            InvocationEnd::Failed(message) => Err(CommandFailure::from_task_error(message)),
            InvocationEnd::TimedOut(_) => Err(CommandFailure::new(
                "HANDLER_TIMEOUT",
                "the command ran past its budget",
            )),
            InvocationEnd::Crashed => Err(CommandFailure::new(
                "PROCESSING_FAILED",
                "the worker process crashed",
            )),
        };
        self.finish_command(c, result);
    }

    /// A passed deadline makes a live command EXPIRED (§5.2, §5.6); true when it did now.
    fn expire_if_due(&mut self, c: usize) -> bool {
        let cmd = &self.commands[c];
        let due = cmd.deadline.is_some_and(|d| self.now() >= d);
        if cmd.state.is_terminal() || !due {
            return false;
        }
        self.commands[c].state = CommandState::Expired;
        self.commands[c].error = Some(("COMMAND_EXPIRED".into(), "deadline passed".into()));
        self.mark_command(c);
        let (id, target) = (self.commands[c].id.clone(), self.target_name(c));
        self.record(Kind::CommandExpired, &target, Some(&id), vec![]);
        true
    }

    fn finish_command(&mut self, c: usize, result: CommandResult) {
        if self.commands[c].state.is_terminal() || self.expire_if_due(c) {
            return;
        }
        let (id, target) = (self.commands[c].id.clone(), self.target_name(c));
        match &result {
            Ok(_) => {
                self.commands[c].state = CommandState::Succeeded;
                let attempt = self.commands[c].attempt;
                self.record(
                    Kind::CommandSucceeded,
                    &target,
                    Some(&id),
                    vec![("attempt", attempt.to_string())],
                );
            }
            Err(failure) => {
                self.commands[c].state = CommandState::Failed;
                self.record(
                    Kind::CommandFailed,
                    &target,
                    Some(&id),
                    vec![
                        ("code", failure.code.clone()),
                        ("message", failure.message.clone()),
                    ],
                );
                self.commands[c].error = Some((failure.code.clone(), failure.message.clone()));
            }
        }
        self.commands[c].response = Some(result);
        self.mark_command(c);
    }

    fn target_name(&self, c: usize) -> String {
        match self.commands[c].target {
            Target::Worker(w) => self.workers[w].id.clone(),
            Target::Daemon(d) => self.daemons[d].id.clone(),
        }
    }

    /// `POST /commands/leases` by a real receiver (§5.2, §5.5): up to `max_leases` PENDING
    /// commands of daemon `target`, oldest first, become DISPATCHED under a lease of
    /// `lease_seconds`; a lease that runs out without a response puts the command back to
    /// PENDING with the next attempt. Commands whose deadline passed become EXPIRED instead.
    pub fn lease_commands(
        &mut self,
        target: &str,
        max_leases: usize,
        lease_seconds: u64,
    ) -> Result<Vec<LeaseGrant>, CommandError> {
        let d = match self.command_target(target)? {
            Target::Daemon(d) => d,
            Target::Worker(_) => return Err(CommandError::Pushed(target.into())),
        };
        let expires_at = after(self.now(), Duration::from_secs(lease_seconds));
        let taken = self.take_leases(d, max_leases, expires_at);
        Ok(taken
            .into_iter()
            .map(|(c, lease)| {
                let cmd = &self.commands[c];
                LeaseGrant {
                    lease_id: lease_name(lease),
                    lease_expires_at: expires_at,
                    command_id: cmd.id.clone(),
                    attempt: cmd.attempt,
                    name: cmd.name.clone(),
                    params: cmd.params.clone(),
                    deadline: cmd.deadline,
                    target: self.command_target_of(c),
                }
            })
            .collect())
    }

    /// Leases up to `max` PENDING commands of daemon `d`, oldest first, until `expires_at`.
    fn take_leases(
        &mut self,
        d: usize,
        max: usize,
        expires_at: DateTime<Utc>,
    ) -> Vec<(usize, u64)> {
        let mut taken = Vec::new();
        for c in 0..self.commands.len() {
            if taken.len() >= max {
                break;
            }
            let cmd = &self.commands[c];
            if cmd.target != Target::Daemon(d)
                || cmd.state != CommandState::Pending
                || self.expire_if_due(c)
            {
                continue;
            }
            let lease = self.next_id();
            let cmd = &mut self.commands[c];
            cmd.state = CommandState::Dispatched;
            cmd.lease = lease;
            cmd.lease_until = Some(expires_at);
            cmd.leases.push(lease);
            self.mark_command(c);
            let cmd = &self.commands[c];
            let (id, attempt) = (cmd.id.clone(), cmd.attempt);
            let daemon = self.daemons[d].id.clone();
            self.record(
                Kind::CommandDispatched,
                &daemon,
                Some(&id),
                vec![("via", "lease".into()), ("attempt", attempt.to_string())],
            );
            self.schedule_at(
                expires_at,
                Timer::Command(CommandTimer::LeaseExpiry { command: c, lease }),
            );
            taken.push((c, lease));
        }
        taken
    }

    /// `POST /commands/leases/{leaseId}/release` (§5.2): the command goes back to PENDING with
    /// the next attempt. A lease that already ended (ran out, released, answered, expired) is
    /// a conflict.
    pub fn release_lease(&mut self, lease_id: &str) -> Result<CommandStatus, CommandError> {
        let unknown = || CommandError::UnknownLease(lease_id.into());
        let lease: u64 = lease_id
            .strip_prefix("lease-")
            .and_then(|n| n.parse().ok())
            .ok_or_else(unknown)?;
        let c = self
            .commands
            .iter()
            .position(|c| c.leases.contains(&lease))
            .ok_or_else(unknown)?;
        self.expire_if_due(c);
        let cmd = &mut self.commands[c];
        if cmd.lease != lease || cmd.state != CommandState::Dispatched {
            return Err(CommandError::LeaseEnded {
                lease: lease_id.into(),
                command: cmd.id.clone(),
            });
        }
        cmd.state = CommandState::Pending;
        cmd.lease = 0;
        cmd.lease_until = None;
        cmd.attempt += 1;
        let (id, attempt) = (cmd.id.clone(), cmd.attempt);
        self.mark_command(c);
        let target = self.target_name(c);
        self.record(
            Kind::CommandLeaseReleased,
            &target,
            Some(&id),
            vec![("next_attempt", attempt.to_string())],
        );
        self.command_status(&id).ok_or_else(unknown)
    }

    /// `PUT /commands/{id}/response` with `{status:"success", response}` (§5.1–§5.2).
    pub fn submit_command_success(
        &mut self,
        command_id: &str,
        response: Vec<u8>,
    ) -> Result<CommandStatus, CommandError> {
        self.submit_command_response(command_id, Ok(response))
    }

    /// `PUT /commands/{id}/response` with `{status:"error", code, message, details?}`.
    pub fn submit_command_error(
        &mut self,
        command_id: &str,
        code: &str,
        message: &str,
        details: Option<Value>,
    ) -> Result<CommandStatus, CommandError> {
        let failure = CommandFailure {
            details,
            ..CommandFailure::new(code, message)
        };
        self.submit_command_response(command_id, Err(failure))
    }

    /// Only a DISPATCHED command accepts a response (SUCCEEDED / FAILED); one already terminal
    /// refuses it (receivers count 409/410 as success, §5.4); a passed deadline makes it
    /// EXPIRED first.
    fn submit_command_response(
        &mut self,
        command_id: &str,
        result: CommandResult,
    ) -> Result<CommandStatus, CommandError> {
        let c = self.command_idx(command_id)?;
        self.expire_if_due(c);
        let state = self.commands[c].state;
        let id = command_id.to_string();
        match state {
            CommandState::Dispatched => {
                self.commands[c].lease = 0;
                self.commands[c].lease_until = None;
                self.mark_command(c);
                self.finish_command(c, result);
                self.command_status(&id)
                    .ok_or(CommandError::UnknownCommand(id))
            }
            CommandState::Pending => Err(CommandError::NotDispatched { id, state }),
            _ => Err(CommandError::Finished { id, state }),
        }
    }

    /// A scripted command-enabled daemon polls for leases (`POST /commands/leases`).
    pub(crate) fn daemon_poll(&mut self, d: usize) {
        let epoch = self.daemons[d].epoch;
        let lease_seconds =
            Duration::from_secs(u64::from(self.profile.commands.default_lease_seconds.value));
        let expires_at = after(self.now(), lease_seconds);
        for (c, lease) in self.take_leases(d, 1, expires_at) {
            let attempt = self.commands[c].attempt;
            let event = self.command_event(c);
            let key = event.key();
            let mut handler = self.daemons[d].handler.take();
            let reply = match handler.as_mut() {
                Some(h) => h.handle(
                    &event,
                    &mut HandlerCtx {
                        rng: &mut self.rng,
                        attempt,
                        key: &key,
                    },
                ),
                None => super::handler::Reply::ok(Duration::ZERO),
            };
            self.daemons[d].handler = handler;
            let budget = lease_seconds.saturating_sub(LEASE_SAFETY_MARGIN);
            let (took, result) = if reply.duration > budget {
                (
                    budget,
                    Err(CommandFailure::new(
                        "HANDLER_TIMEOUT",
                        "the lease ran out before the handler finished",
                    )),
                )
            } else {
                let result = match reply.result {
                    HandlerResult::Ok { .. } => Ok(Vec::new()),
                    HandlerResult::Err(message) => {
                        Err(CommandFailure::new("HANDLER_ERROR", message))
                    }
                    HandlerResult::Crash => {
                        // The receiver dies with its process: the lease simply runs out.
                        let at = reply.duration;
                        let code = 137;
                        let daemon_epoch = self.daemons[d].epoch;
                        self.schedule_in(
                            at,
                            Timer::Daemon(super::daemon::DaemonTimer::Exit {
                                daemon: d,
                                epoch: daemon_epoch,
                                code,
                            }),
                        );
                        continue;
                    }
                };
                (reply.duration, result)
            };
            self.schedule_in(
                took,
                Timer::Command(CommandTimer::LeasedDone {
                    command: c,
                    lease,
                    daemon_epoch: epoch,
                    result,
                }),
            );
        }
        self.schedule_in(
            POLL_INTERVAL,
            Timer::Daemon(super::daemon::DaemonTimer::Poll { daemon: d, epoch }),
        );
    }

    pub(crate) fn on_command_timer(&mut self, timer: CommandTimer) {
        match timer {
            CommandTimer::Deadline { command } => {
                self.expire_if_due(command);
            }
            CommandTimer::LeaseExpiry { command, lease } => {
                let cmd = &mut self.commands[command];
                if cmd.state != CommandState::Dispatched || cmd.lease != lease {
                    return;
                }
                // A lease that ran out without a response: back to PENDING, next attempt.
                cmd.state = CommandState::Pending;
                cmd.lease = 0;
                cmd.lease_until = None;
                cmd.attempt += 1;
                let (id, attempt) = (cmd.id.clone(), cmd.attempt);
                self.mark_command(command);
                let target = self.target_name(command);
                self.record(
                    Kind::CommandLeaseExpired,
                    &target,
                    Some(&id),
                    vec![("next_attempt", attempt.to_string())],
                );
            }
            CommandTimer::LeasedDone {
                command,
                lease,
                daemon_epoch,
                result,
            } => {
                // A receiver that died before answering never submits its response.
                let alive = match self.commands[command].target {
                    Target::Daemon(d) => self.daemons[d].epoch == daemon_epoch,
                    Target::Worker(_) => true,
                };
                if alive
                    && self.commands[command].lease == lease
                    && self.commands[command].state == CommandState::Dispatched
                {
                    self.finish_command(command, result);
                }
            }
        }
    }
}

mod record;
pub use record::CommandRecord;

#[cfg(test)]
pub(crate) mod tests;
