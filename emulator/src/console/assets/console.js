// The live console of `alien emulate` (`/ui`): follows `GET /trace` by long-poll, shows the
// resources from `GET /status`, and drives the control API (advance, fire cron, send, faults).
"use strict";
(() => {
  const { Timeline, drawLanes, drawDetails, el } = window.AlienTimeline;
  const TRACE_PAGE = 10000;
  const START_EVENTS = 5000;
  const timeline = new Timeline();
  const view = { pxPerMs: undefined, selected: undefined };
  let after;
  let status;
  let drawPending = false;

  const $ = (id) => document.getElementById(id);

  async function call(method, path, body) {
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["content-type"] = "application/json";
    }
    const response = await fetch(path, init);
    const text = await response.text();
    const value = text ? JSON.parse(text) : null;
    if (!response.ok) throw new Error((value && value.error) || `${response.status} ${response.statusText}`);
    return value;
  }

  function say(text, failed = false) {
    const line = $("result");
    line.textContent = text;
    line.className = failed ? "failed" : "";
  }

  async function control(what, run) {
    try {
      say(`${what}: ${await run()}`);
    } catch (err) {
      say(`${what} failed: ${err.message}`, true);
    }
  }

  function filters() {
    return {
      lane: $("filter-lane").value,
      resource: $("filter-resource").value,
      subject: $("filter-subject").value.trim(),
      kind: $("filter-kind").value,
    };
  }

  function scheduleDraw() {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => {
      drawPending = false;
      draw();
    });
  }

  function draw() {
    const { total, lanes } = timeline.visible(filters());
    const axisMs = axisSpan();
    const pxPerMs = view.pxPerMs || fitScale(axisMs);
    drawLanes($("lanes"), lanes, { axisMs, pxPerMs, nowMs: timeline.endMs, total, onSelect: select });
    refreshFilterChoices();
  }

  function refreshFilterChoices() {
    const resources = new Set([...timeline.lanes.values()].map((l) => l.resource));
    const kinds = new Set();
    for (const lane of timeline.lanes.values()) for (const k of lane.kinds) kinds.add(k);
    fillSelect($("filter-resource"), resources, "every resource");
    fillSelect($("filter-kind"), kinds, "any event kind");
  }

  function fillSelect(select, values, all) {
    const wanted = ["", ...[...values].sort()];
    const have = [...select.options].map((o) => o.value);
    if (wanted.join("\u0000") === have.join("\u0000")) return;
    const current = select.value;
    select.replaceChildren(...wanted.map((v) => el("option", { value: v }, v || all)));
    select.value = wanted.includes(current) ? current : "";
  }

  function select(item, lane) {
    view.selected = item;
    drawDetails($("details"), timeline, item, lane, lane.kind === "message" ? payloadOf(lane) : undefined);
  }

  /// The payload of a message the emulator still holds (queued, leased or dead-lettered).
  async function payloadOf(lane) {
    try {
      const queue = encodeURIComponent(lane.resource);
      const held = await call("GET", `/queues/${queue}/messages`);
      const found = held.find((m) => m.id === lane.subject);
      if (found) return JSON.stringify(found.payload);
      const dead = await call("GET", `/queues/${queue}/dead-letters`);
      const gone = dead.find((m) => m.id === lane.subject);
      if (gone) return `${JSON.stringify(gone.payload)} (dead-lettered)`;
      return "not held any more (acked or expired): the emulator keeps payloads only while it holds the message";
    } catch (err) {
      return `unavailable: ${err.message}`;
    }
  }

  async function follow() {
    for (;;) {
      try {
        // Start from the newest events (a long run's trace can hold millions), then follow.
        const query = after === undefined ? `tail=${START_EVENTS}&wait=25` : `after=${after}&wait=25`;
        const events = await call("GET", `/trace?${query}`);
        for (const e of events) {
          timeline.apply(e);
          after = e.seq;
        }
        if (after !== undefined) document.body.dataset.seq = String(after);
        if (events.length < TRACE_PAGE || document.body.dataset.ready !== "1") {
          document.body.dataset.ready = "1";
          $("live").textContent = "live";
          $("live").className = "live";
        }
        if (events.length) {
          scheduleDraw();
          refreshStatus();
        }
      } catch (err) {
        $("live").textContent = `disconnected: ${err.message}; retrying`;
        $("live").className = "down";
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  let statusPending;
  function refreshStatus() {
    if (statusPending) return;
    statusPending = call("GET", "/status")
      .then((s) => {
        status = s;
        drawStatus();
      })
      .catch((err) => say(`status failed: ${err.message}`, true))
      .finally(() => {
        statusPending = undefined;
      });
  }

  function table(headers, rows) {
    const t = el("table");
    t.append(el("tr", {}, undefined));
    t.firstChild.append(...headers.map((h) => el("th", {}, h)));
    for (const row of rows) {
      const tr = el("tr");
      tr.append(...row.map((c) => el("td", {}, c === undefined || c === null ? "" : String(c))));
      t.append(tr);
    }
    return t;
  }

  function drawStatus() {
    $("platform").textContent = `${status.stack} · ${status.platform} (limits as of ${status.as_of})`;
    $("now").textContent = `virtual now ${status.now}`;
    const box = $("resources");
    box.replaceChildren(
      el("h3", {}, "queues"),
      table(["queue", "visible", "in flight", "dead letters"], status.queues.map((q) => [q.name, q.visible, q.in_flight, q.dead_lettered])),
      el("h3", {}, "workers"),
      table(["worker", "timeout", "port", "gateway"], status.workers.map((w) => [w.id, `${w.timeout_seconds} s`, w.port, w.gateway])),
      el("h3", {}, "cron triggers"),
      table(["worker", "#", "schedule"], status.crons.map((c) => [c.worker, c.index, c.expr])),
      el("h3", {}, "daemons"),
      table(["daemon", "state", "restarts"], status.daemons.map((d) => [d.daemonName, d.state, d.restarts])),
    );
    fillSelect($("send-queue"), new Set(status.queues.map((q) => q.name)), "queue…");
    fillSelect($("fire-cron"), new Set(status.crons.map((c) => `${c.worker}/${c.index}`)), "cron trigger…");
  }

  async function loadFaults() {
    try {
      const faults = await call("GET", "/faults");
      const box = $("fault-rates");
      box.replaceChildren();
      for (const kind of faults.kinds) {
        const input = el("input", { type: "number", min: "0", max: "1", step: "0.05", "data-fault": kind, value: faults.rates[kind] || 0 });
        box.append(el("label", {}, kind), input);
      }
      $("fault-seed").textContent = `seed ${faults.seed}`;
    } catch (err) {
      say(`faults failed: ${err.message}`, true);
    }
  }

  function wire() {
    for (const id of ["filter-lane", "filter-resource", "filter-kind"]) $(id).addEventListener("change", draw);
    $("filter-subject").addEventListener("input", draw);
    $("zoom-in").addEventListener("click", () => { view.pxPerMs = currentScale() * 2; draw(); });
    $("zoom-out").addEventListener("click", () => { view.pxPerMs = currentScale() / 2; draw(); });
    $("zoom-fit").addEventListener("click", () => { view.pxPerMs = undefined; draw(); });
    $("advance").addEventListener("click", () => control("advance", async () => {
      const answer = await call("POST", "/clock/advance", { by: $("advance-by").value.trim() });
      return `now ${answer.now}`;
    }));
    $("fire").addEventListener("click", () => control("fire", async () => {
      const [worker, index] = $("fire-cron").value.split("/");
      if (!worker) throw new Error("choose a cron trigger");
      await call("POST", `/crons/${encodeURIComponent(worker)}/${index}/fire`);
      return `fired ${worker} #${index}`;
    }));
    $("send").addEventListener("click", () => control("send", async () => {
      const queue = $("send-queue").value;
      if (!queue) throw new Error("choose a queue");
      const text = $("send-body").value;
      let body;
      try { body = { json: JSON.parse(text) }; } catch { body = { text }; }
      const answer = await call("POST", `/queues/${encodeURIComponent(queue)}/messages`, body);
      return `sent ${answer.id} to ${queue}`;
    }));
    $("faults-apply").addEventListener("click", () => control("faults", async () => {
      const rates = {};
      for (const input of document.querySelectorAll("[data-fault]")) rates[input.dataset.fault] = Number(input.value);
      const answer = await call("POST", "/faults", { rates });
      return `rates ${JSON.stringify(answer.rates)}`;
    }));
    window.addEventListener("resize", scheduleDraw);
  }

  /// The time axis: the trace so far and a little room after it.
  function axisSpan() {
    return Math.max(timeline.endMs * 1.05, 1000);
  }

  /// The scale at which the whole axis fits the lanes' width (beside the 250 px labels).
  function fitScale(axisMs) {
    return Math.max($("lanes").clientWidth - 300, 300) / axisMs;
  }

  function currentScale() {
    return view.pxPerMs || fitScale(axisSpan());
  }

  wire();
  refreshStatus();
  // The virtual clock moves on its own in real time: keep the resources current.
  setInterval(refreshStatus, 2000);
  loadFaults();
  follow();
})();
