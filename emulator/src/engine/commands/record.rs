//! Commands as a durable store keeps them: one record per command, written whenever the
//! command changes and read back after a restart (upstream-runtime-and-bindings.md §5: a
//! command's state, attempt, lease and response outlive the process serving it).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CommandFailure, CommandRt, CommandState, CommandTimer, Target};
use crate::engine::sim::{Sim, Timer};

/// One command, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandRecord {
    pub id: String,
    pub name: String,
    pub params: Value,
    /// The worker or daemon it is for.
    pub target: String,
    pub state: CommandState,
    pub attempt: u32,
    pub deadline: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub idempotency_key: Option<String>,
    /// The live lease (0 = none) and when it runs out.
    pub lease: u64,
    pub lease_until: Option<DateTime<Utc>>,
    pub leases: Vec<u64>,
    /// Code and message of a FAILED or EXPIRED command.
    pub error: Option<(String, String)>,
    pub response: Option<StoredResponse>,
}

/// A command's response: the success bytes or the error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum StoredResponse {
    Success {
        data: Vec<u8>,
    },
    Error {
        code: String,
        message: String,
        details: Option<Value>,
    },
}

impl Sim {
    /// The stored form of command `c`.
    pub(crate) fn command_record(&self, c: usize) -> CommandRecord {
        let cmd = &self.commands[c];
        CommandRecord {
            id: cmd.id.clone(),
            name: cmd.name.clone(),
            params: cmd.params.clone(),
            target: self.target_name(c),
            state: cmd.state,
            attempt: cmd.attempt,
            deadline: cmd.deadline,
            created_at: cmd.created_at,
            idempotency_key: cmd.idempotency_key.clone(),
            lease: cmd.lease,
            lease_until: cmd.lease_until,
            leases: cmd.leases.clone(),
            error: cmd.error.clone(),
            response: cmd.response.as_ref().map(|r| match r {
                Ok(data) => StoredResponse::Success { data: data.clone() },
                Err(f) => StoredResponse::Error {
                    code: f.code.clone(),
                    message: f.message.clone(),
                    details: f.details.clone(),
                },
            }),
        }
    }

    /// Puts back stored commands with their deadline and lease timers. A command pushed to a
    /// worker whose attempt died with the previous process is handed to the worker again by
    /// [`Sim::resume_deliveries`], with the next attempt, as an expired lease would
    /// (§5.5); commands for resources the stack no longer has are dropped.
    pub(crate) fn restore_commands(&mut self, records: Vec<CommandRecord>) {
        for record in records {
            let Some(target) = self.restored_target(&record.target) else {
                continue;
            };
            let c = self.commands.len();
            let state = record.state;
            let worker = match target {
                Target::Worker(w) => Some(w),
                Target::Daemon(_) => None,
            };
            self.commands.push(CommandRt {
                id: record.id,
                name: record.name,
                params: record.params,
                target,
                state,
                attempt: record.attempt,
                deadline: record.deadline,
                created_at: record.created_at,
                idempotency_key: record.idempotency_key,
                lease: record.lease,
                lease_until: record.lease_until,
                leases: record.leases,
                error: record.error,
                response: record.response.map(restored_response),
                pending_data: None,
            });
            if state.is_terminal() {
                continue;
            }
            if let Some(at) = record.deadline {
                self.schedule_at(at, Timer::Command(CommandTimer::Deadline { command: c }));
            }
            match (worker, record.lease_until) {
                (Some(_), _) => self.resume_commands.push(c),
                (None, Some(until)) if record.lease != 0 => {
                    let lease = record.lease;
                    self.schedule_at(
                        until,
                        Timer::Command(CommandTimer::LeaseExpiry { command: c, lease }),
                    );
                }
                (None, _) => {}
            }
        }
    }

    /// Hands worker commands restored by [`Sim::restore_commands`] to their worker again.
    pub(crate) fn redispatch_restored_commands(&mut self) {
        for c in std::mem::take(&mut self.resume_commands) {
            let Target::Worker(w) = self.commands[c].target else {
                continue;
            };
            if self.commands[c].state == CommandState::Dispatched {
                self.commands[c].attempt += 1;
            }
            self.dispatch_to_worker(c, w);
        }
    }

    fn restored_target(&self, id: &str) -> Option<Target> {
        if let Some(&w) = self.worker_index.get(id) {
            return Some(Target::Worker(w));
        }
        self.daemons
            .iter()
            .position(|d| d.id == id)
            .map(Target::Daemon)
    }
}

fn restored_response(stored: StoredResponse) -> super::CommandResult {
    match stored {
        StoredResponse::Success { data } => Ok(data),
        StoredResponse::Error {
            code,
            message,
            details,
        } => Err(CommandFailure {
            code,
            message,
            details,
        }),
    }
}
