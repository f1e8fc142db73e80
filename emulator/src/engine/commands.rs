//! Commands (arc.v1): pushed to command-enabled workers as tasks; leased by command-enabled
//! daemons that poll; states PENDING → DISPATCHED → SUCCEEDED | FAILED | EXPIRED, attempts
//! and deadlines (upstream-runtime-and-bindings.md §5; published-3.3.49.md §10).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::events::{CommandEvent, Event};
use super::handler::{HandlerCtx, HandlerResult};
use super::sim::{InvocationEnd, Origin, Sim, SimError, Timer, Work};
use super::trace::Kind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
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
}

#[derive(Debug, Clone, PartialEq)]
enum Target {
    Worker(usize),
    Daemon(usize),
}

pub(crate) struct CommandRt {
    pub id: String,
    name: String,
    params: Value,
    target: Target,
    pub state: CommandState,
    pub attempt: u32,
    deadline: Option<DateTime<Utc>>,
    lease: u64,
    pub error: Option<(String, String)>,
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
        result: Result<(), (String, String)>,
    },
}

/// What `command_status` reports (`CommandStatusResponse`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandStatus {
    pub command_id: String,
    pub state: CommandState,
    pub attempt: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

/// Daemon receivers poll every 5 s by default (`ALIEN_COMMANDS_POLL_INTERVAL_MS`) and keep a
/// 5 s safety margin before their lease runs out (`LEASE_SAFETY_MARGIN`).
const POLL_INTERVAL: Duration = Duration::from_secs(5);
const LEASE_SAFETY_MARGIN: Duration = Duration::from_secs(5);

impl Sim {
    /// Creates a command for a command-enabled worker or daemon; returns its id.
    pub fn create_command(
        &mut self,
        target: &str,
        name: &str,
        params: Value,
        deadline: Option<Duration>,
    ) -> Result<String, SimError> {
        let target_ref = if let Some(&w) = self.worker_index.get(target) {
            let enabled = self
                .stack
                .workers()
                .any(|(id, wk)| id == target && wk.commands_enabled);
            if !enabled {
                return Err(SimError::Invalid(format!(
                    "worker '{target}' does not have commandsEnabled"
                )));
            }
            Target::Worker(w)
        } else if let Some(d) = self.daemons.iter().position(|d| d.id == target) {
            if !self.daemons[d].commands_enabled {
                return Err(SimError::Invalid(format!(
                    "daemon '{target}' does not have commandsEnabled"
                )));
            }
            Target::Daemon(d)
        } else {
            return Err(SimError::UnknownResource {
                kind: "worker or daemon",
                name: target.into(),
            });
        };
        let params_bytes = params.to_string().len() as u64;
        let inline_max = self.profile.commands.inline_max_bytes.value;
        let mode = if params_bytes > inline_max {
            "storage"
        } else {
            "inline"
        };
        let id = format!("cmd-{}", self.next_id());
        let deadline_at = deadline
            .map(|d| self.now() + chrono::Duration::from_std(d).unwrap_or(chrono::TimeDelta::MAX));
        let c = self.commands.len();
        self.commands.push(CommandRt {
            id: id.clone(),
            name: name.to_string(),
            params,
            target: target_ref.clone(),
            state: CommandState::Pending,
            attempt: 1,
            deadline: deadline_at,
            lease: 0,
            error: None,
        });
        self.record(
            Kind::CommandCreated,
            target,
            Some(&id),
            vec![("name", name.to_string()), ("params", mode.to_string())],
        );
        if let Some(at) = deadline_at {
            self.schedule_at(at, Timer::Command(CommandTimer::Deadline { command: c }));
        }
        if let Target::Worker(w) = target_ref {
            self.dispatch_to_worker(c, w);
        }
        Ok(id)
    }

    pub fn command_status(&self, id: &str) -> Option<CommandStatus> {
        self.commands
            .iter()
            .find(|c| c.id == id)
            .map(|c| CommandStatus {
                command_id: c.id.clone(),
                state: c.state,
                attempt: c.attempt,
                error_code: c.error.as_ref().map(|(code, _)| code.clone()),
            })
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

    /// A pushed command's invocation ended.
    pub(crate) fn settle_command(&mut self, c: usize, end: &InvocationEnd) {
        let result = match end {
            InvocationEnd::Succeeded { .. } => Ok(()),
            InvocationEnd::Failed(message) => Err(("COMMAND_ERROR".to_string(), message.clone())),
            InvocationEnd::TimedOut(_) => Err((
                "HANDLER_TIMEOUT".to_string(),
                "the command ran past its budget".to_string(),
            )),
            InvocationEnd::Crashed => Err((
                "PROCESSING_FAILED".to_string(),
                "the worker process crashed".to_string(),
            )),
        };
        self.finish_command(c, result);
    }

    fn finish_command(&mut self, c: usize, result: Result<(), (String, String)>) {
        if self.commands[c].state.is_terminal() {
            return;
        }
        let expired = self.commands[c].deadline.is_some_and(|d| self.now() >= d);
        let (id, target) = (self.commands[c].id.clone(), self.target_name(c));
        match result {
            _ if expired => {
                self.commands[c].state = CommandState::Expired;
                self.commands[c].error = Some(("COMMAND_EXPIRED".into(), "deadline passed".into()));
                self.record(Kind::CommandExpired, &target, Some(&id), vec![]);
            }
            Ok(()) => {
                self.commands[c].state = CommandState::Succeeded;
                let attempt = self.commands[c].attempt;
                self.record(
                    Kind::CommandSucceeded,
                    &target,
                    Some(&id),
                    vec![("attempt", attempt.to_string())],
                );
            }
            Err((code, message)) => {
                self.commands[c].state = CommandState::Failed;
                self.record(
                    Kind::CommandFailed,
                    &target,
                    Some(&id),
                    vec![("code", code.clone()), ("message", message.clone())],
                );
                self.commands[c].error = Some((code, message));
            }
        }
    }

    fn target_name(&self, c: usize) -> String {
        match self.commands[c].target {
            Target::Worker(w) => self.workers[w].id.clone(),
            Target::Daemon(d) => self.daemons[d].id.clone(),
        }
    }

    /// A command-enabled daemon polls for leases (`POST /commands/leases`).
    pub(crate) fn daemon_poll(&mut self, d: usize) {
        let epoch = self.daemons[d].epoch;
        let lease_seconds =
            Duration::from_secs(u64::from(self.profile.commands.default_lease_seconds.value));
        let pending: Vec<usize> = (0..self.commands.len())
            .filter(|&c| {
                self.commands[c].target == Target::Daemon(d)
                    && self.commands[c].state == CommandState::Pending
            })
            .take(1)
            .collect();
        for c in pending {
            self.commands[c].state = CommandState::Dispatched;
            let lease = self.next_id();
            self.commands[c].lease = lease;
            let (id, daemon) = (self.commands[c].id.clone(), self.daemons[d].id.clone());
            let attempt = self.commands[c].attempt;
            self.record(
                Kind::CommandDispatched,
                &daemon,
                Some(&id),
                vec![("via", "lease".into()), ("attempt", attempt.to_string())],
            );
            self.schedule_in(
                lease_seconds,
                Timer::Command(CommandTimer::LeaseExpiry { command: c, lease }),
            );
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
                    Err((
                        "HANDLER_TIMEOUT".to_string(),
                        "the lease ran out before the handler finished".to_string(),
                    )),
                )
            } else {
                let result = match reply.result {
                    HandlerResult::Ok { .. } => Ok(()),
                    HandlerResult::Err(message) => Err(("HANDLER_ERROR".to_string(), message)),
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
                if !self.commands[command].state.is_terminal() {
                    self.finish_command(command, Ok(()));
                }
            }
            CommandTimer::LeaseExpiry { command, lease } => {
                let cmd = &mut self.commands[command];
                if cmd.state != CommandState::Dispatched || cmd.lease != lease {
                    return;
                }
                // A lease that ran out without a response: back to PENDING, next attempt.
                cmd.state = CommandState::Pending;
                cmd.attempt += 1;
                let (id, attempt) = (cmd.id.clone(), cmd.attempt);
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
