// The timeline's lanes, built from trace events (drawn by draw.js). Shared by the live
// console (`/ui`) and the `alien simulate --html` report. Every position and label comes from
// a trace event: the engine's virtual time (`t_ms`) and details (`attempt`, `lease`, `cause`,
// `error`), never from the browser's clock.
"use strict";
(() => {
  const ATTEMPT_ENDS = new Set(["succeeded", "failed", "timed_out", "crashed"]);
  const MESSAGE_MARKS = {
    sent: "sent",
    rejected: "rejected",
    acked: "acked",
    ack_stale: "ack_stale",
    dead_lettered: "dead_lettered",
    expired: "expired",
  };
  const WORKER_MARKS = new Set([
    "cold_start", "scaled_in", "scaled_to_zero", "recycled", "throttled",
    "process_started", "process_exited", "http_response",
  ]);

  /// A detail of an event (`[[key, value], ...]`), or undefined.
  function detail(event, key) {
    for (const [k, v] of event.detail || []) {
      if (k === key) return v;
    }
    return undefined;
  }

  /// Milliseconds in a duration as the engine writes it ("1h2m3s400ms", "18m", "100ms").
  function durationMs(text) {
    if (!text) return undefined;
    const units = { d: 86400000, h: 3600000, m: 60000, s: 1000, ms: 1 };
    let total = 0;
    let matched = false;
    for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|d|h|m|s)/g)) {
      total += Number(n) * units[unit];
      matched = true;
    }
    return matched ? total : undefined;
  }

  /// "+00:18:00.000" for a virtual offset.
  function offsetText(ms) {
    const sign = ms < 0 ? "-" : "+";
    let rest = Math.abs(ms);
    const h = Math.floor(rest / 3600000); rest %= 3600000;
    const m = Math.floor(rest / 60000); rest %= 60000;
    const s = Math.floor(rest / 1000); const milli = rest % 1000;
    const pad = (n, w) => String(n).padStart(w, "0");
    return `${sign}${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}.${pad(milli, 3)}`;
  }

  function eventLine(e) {
    const details = (e.detail || []).map(([k, v]) => `${k}=${v}`).join(" ");
    return `${offsetText(e.t_ms)} ${e.kind} ${e.resource} ${e.subject || ""} ${details}`.trim();
  }

  class Timeline {
    /// `maxEvents`: events kept for "events around" (oldest leave first); `maxLanes`: lanes
    /// kept (the oldest finished lanes leave first).
    constructor({ maxEvents = 20000, maxLanes = 5000 } = {}) {
      this.maxEvents = maxEvents;
      this.maxLanes = maxLanes;
      this.lanes = new Map();
      this.events = [];
      this.open = new Map();
      this.endMs = 0;
      this.dropped = 0;
    }

    lane(kind, resource, subject, label) {
      const key = `${kind}\u0000${resource}\u0000${subject || ""}`;
      let lane = this.lanes.get(key);
      if (!lane) {
        lane = { key, kind, resource, subject: subject || "", label, items: [], kinds: new Set(), lastMs: 0 };
        this.lanes.set(key, lane);
        if (this.lanes.size > this.maxLanes) this.evictLane();
      }
      return lane;
    }

    evictLane() {
      for (const [key, lane] of this.lanes) {
        if (!lane.items.some((i) => i.outcome === "running")) {
          this.lanes.delete(key);
          this.dropped += 1;
          return;
        }
      }
    }

    /// Adds one trace event (in `seq` order).
    apply(e) {
      this.events.push(e);
      if (this.events.length > this.maxEvents) this.events.splice(0, this.events.length - this.maxEvents);
      this.endMs = Math.max(this.endMs, e.t_ms);
      const lane = this.route(e);
      if (lane) {
        lane.kinds.add(e.kind);
        lane.lastMs = Math.max(lane.lastMs, e.t_ms);
      }
    }

    /// Puts `e` on its lane; returns the lane.
    route(e) {
      const k = e.kind;
      if (k === "delivered") return this.delivered(e);
      if (k === "lease_expired" || k === "push_backoff") return this.redelivery(e);
      if (MESSAGE_MARKS[k] && e.subject) return this.messageMark(e);
      if (ATTEMPT_ENDS.has(k)) return this.attemptEnd(e);
      if (k === "http_request") return this.invocationStart(this.workerLane(e.resource), e, "http");
      if (k === "cron_fired" || k === "cron_skipped") return this.cron(e);
      if (k.startsWith("daemon_")) return this.daemon(e);
      if (k.startsWith("command_")) return this.command(e);
      if (WORKER_MARKS.has(k)) return this.mark(this.workerLane(e.resource), e, k);
      return this.mark(this.lane("resource", e.resource, "", e.resource), e, k);
    }

    messageLane(e) {
      return this.lane("message", e.resource, e.subject, `${e.resource} · ${e.subject}`);
    }

    workerLane(worker) {
      return this.lane("worker", worker, "", worker);
    }

    mark(lane, e, mark, extra = {}) {
      lane.items.push({ type: "mark", mark, at: e.t_ms, seq: e.seq, event: e, ...extra });
      return lane;
    }

    delivered(e) {
      const lane = this.messageLane(e);
      const worker = detail(e, "to");
      const number = lane.items.filter((i) => i.type === "attempt").length + 1;
      const lease = durationMs(detail(e, "lease"));
      if (lease !== undefined) {
        lane.items.push({ type: "window", start: e.t_ms, end: e.t_ms + lease, seq: e.seq, lease: detail(e, "lease") });
      }
      const attempt = {
        type: "attempt", number, reported: detail(e, "attempt"), worker, start: e.t_ms, end: undefined,
        outcome: worker === "binding" ? "received" : "running", seq: e.seq, event: e, lane: lane.key,
      };
      lane.items.push(attempt);
      if (worker && worker !== "binding") {
        // The worker's outcome event names the stored message id, even where each delivery
        // has its own id (Local's `delivery_id`).
        this.open.set(`${worker}\u0000${e.subject}`, attempt);
        this.workerLane(worker).items.push(attempt);
      }
      return lane;
    }

    /// Where a lease, lock or deadline ends: the open lease window closes at `e`.
    closeWindow(lane, at) {
      for (let i = lane.items.length - 1; i >= 0; i -= 1) {
        const item = lane.items[i];
        if (item.type === "window") {
          if (item.end > at) item.end = at;
          return;
        }
      }
    }

    redelivery(e) {
      const lane = this.messageLane(e);
      if (e.kind === "lease_expired") this.closeWindow(lane, e.t_ms);
      const cause = detail(e, "cause") || detail(e, "reason") || e.kind;
      const mark = e.kind === "lease_expired" ? "redelivery" : "backoff";
      return this.mark(lane, e, mark, { cause });
    }

    messageMark(e) {
      const lane = this.messageLane(e);
      if (e.kind === "acked" || e.kind === "dead_lettered" || e.kind === "expired") this.closeWindow(lane, e.t_ms);
      return this.mark(lane, e, MESSAGE_MARKS[e.kind], { cause: detail(e, "cause") });
    }

    /// An invocation starting at `e`; its outcome event names `subject` (a request id, a cron slot).
    invocationStart(lane, e, source, subject = e.subject) {
      const attempt = {
        type: "attempt", number: lane.items.filter((i) => i.type === "attempt").length + 1,
        worker: e.resource, start: e.t_ms, end: undefined, outcome: "running", seq: e.seq, event: e,
        lane: lane.key, source,
      };
      lane.items.push(attempt);
      this.open.set(`${detail(e, "to") || e.resource}\u0000${subject}`, attempt);
      if (lane.kind !== "worker") this.workerLane(detail(e, "to") || e.resource).items.push(attempt);
      return lane;
    }

    attemptEnd(e) {
      const key = `${e.resource}\u0000${e.subject}`;
      let attempt = this.open.get(key);
      if (attempt) {
        this.open.delete(key);
      } else {
        // An invocation whose start the trace does not show (an event, an external caller):
        // it began `took` before its end.
        const lane = this.workerLane(e.resource);
        const took = durationMs(detail(e, "took")) || 0;
        attempt = {
          type: "attempt", number: lane.items.filter((i) => i.type === "attempt").length + 1,
          worker: e.resource, start: e.t_ms - took, seq: e.seq, event: e, lane: lane.key,
        };
        lane.items.push(attempt);
      }
      attempt.end = e.t_ms;
      attempt.outcome = e.kind;
      attempt.error = detail(e, "error");
      attempt.took = detail(e, "took");
      attempt.endEvent = e;
      return this.lanes.get(attempt.lane);
    }

    cron(e) {
      const lane = this.lane("cron", e.resource, e.subject, `${e.resource} · ${e.subject}`);
      if (e.kind === "cron_fired") {
        this.mark(lane, e, "fired", { cause: `slot ${detail(e, "slot") || ""} (${detail(e, "why") || "schedule"})` });
        return this.invocationStart(lane, e, "cron", detail(e, "slot"));
      }
      return this.mark(lane, e, "skipped", { cause: detail(e, "reason") });
    }

    daemon(e) {
      const lane = this.lane("daemon", e.resource, "", `daemon ${e.resource}`);
      const runs = lane.items.filter((i) => i.type === "attempt");
      const running = runs.find((r) => r.outcome === "running");
      if (e.kind === "daemon_started") {
        lane.items.push({
          type: "attempt", number: runs.length + 1, worker: e.resource, start: e.t_ms, outcome: "running",
          seq: e.seq, event: e, lane: lane.key,
        });
      } else if (e.kind === "daemon_exited" && running) {
        running.end = e.t_ms;
        running.outcome = detail(e, "code") === "0" ? "succeeded" : "crashed";
        running.error = `exit code ${detail(e, "code")}`;
        running.endEvent = e;
      } else {
        this.mark(lane, e, e.kind.replace("daemon_", ""), { cause: detail(e, "reason") || detail(e, "in") });
      }
      return lane;
    }

    command(e) {
      const lane = this.lane("command", e.resource, e.subject, `${e.resource} · ${e.subject}`);
      const open = lane.items.find((i) => i.type === "attempt" && i.outcome === "running");
      if (e.kind === "command_dispatched") {
        lane.items.push({
          type: "attempt", number: lane.items.filter((i) => i.type === "attempt").length + 1,
          worker: e.resource, start: e.t_ms, outcome: "running", seq: e.seq, event: e, lane: lane.key,
        });
      } else if (open && e.kind !== "command_created") {
        open.end = e.t_ms;
        open.outcome = e.kind === "command_succeeded" ? "succeeded" : "failed";
        open.error = detail(e, "error") || detail(e, "reason");
        open.endEvent = e;
        if (e.kind !== "command_succeeded" && e.kind !== "command_failed") this.mark(lane, e, e.kind.replace("command_", ""));
      } else {
        this.mark(lane, e, e.kind.replace("command_", ""));
      }
      return lane;
    }

    /// Lanes passing `filter` ({lane, resource, subject, kind}), at most `limit`, newest last.
    visible(filter = {}, limit = 300) {
      const out = [];
      for (const lane of this.lanes.values()) {
        if (filter.lane && lane.kind !== filter.lane) continue;
        if (filter.resource && lane.resource !== filter.resource) continue;
        if (filter.subject && !lane.subject.includes(filter.subject) && !lane.label.includes(filter.subject)) continue;
        if (filter.kind && !lane.kinds.has(filter.kind)) continue;
        out.push(lane);
      }
      return { total: out.length, lanes: out.slice(Math.max(0, out.length - limit)) };
    }

    /// The kept events around `seq` (up to `radius` each side).
    around(seq, radius = 6) {
      const i = this.events.findIndex((e) => e.seq === seq);
      if (i < 0) return [];
      return this.events.slice(Math.max(0, i - radius), i + radius + 1);
    }
  }

  window.AlienTimeline = { Timeline, offsetText, durationMs, detail, eventLine };
})();
