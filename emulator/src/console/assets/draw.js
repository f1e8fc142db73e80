// Drawing the lanes of lanes.js as DOM elements on a time axis, and the details panel.
"use strict";
(() => {
  const { offsetText, eventLine } = window.AlienTimeline;

  /// Worker lanes show one row per concurrent invocation slot: attempts packed greedily.
  function slots(attempts, nowMs) {
    const ends = [];
    const placed = [];
    for (const a of [...attempts].sort((x, y) => x.start - y.start)) {
      const end = a.end === undefined ? nowMs : a.end;
      let row = ends.findIndex((e) => e <= a.start);
      if (row < 0) { row = ends.length; ends.push(end); } else { ends[row] = end; }
      placed.push([a, row]);
    }
    return { rows: Math.max(1, ends.length), placed };
  }

  function el(tag, attrs = {}, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null) continue;
      if (k === "class") node.className = v;
      else if (k === "style") node.style.cssText = v;
      else if (k.startsWith("data-")) node.setAttribute(k, String(v));
      else node.setAttribute(k, String(v));
    }
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const ROW_PX = 22;
  /// Short labels of markers that carry no cause.
  const MARK_LABELS = { acked: "ack", dead_lettered: "dead letter", sent: "", scaled_to_zero: "scaled to zero", cold_start: "cold start" };
  const LABEL_ROW_PX = 16;
  const LABEL_ROWS = 4;
  /// A generous width of one label character at 11 px, for stacking labels.
  const LABEL_CHAR_PX = 6.5;

  /// Draws `lanes` into `root` on an axis of `axisMs` milliseconds at `pxPerMs`.
  /// `onSelect(item, lane)` is called when an attempt or mark is clicked.
  function drawLanes(root, lanes, { axisMs, pxPerMs, nowMs, onSelect, total }) {
    root.replaceChildren();
    const width = Math.max(200, Math.ceil(axisMs * pxPerMs) + 40);
    const timeline = el("div", { class: "timeline", "data-axis-ms": axisMs });
    timeline.append(axis(axisMs, pxPerMs, width));
    if (total !== undefined && total > lanes.length) {
      timeline.append(el("div", { class: "note" }, `showing the newest ${lanes.length} of ${total} lanes (filter to narrow)`));
    }
    for (const lane of lanes) timeline.append(drawLane(lane, { pxPerMs, width, nowMs, onSelect }));
    if (lanes.length === 0) timeline.append(el("div", { class: "note" }, "no lanes match"));
    root.append(timeline);
  }

  function axis(axisMs, pxPerMs, width) {
    const node = el("div", { class: "axis", style: `width:${width}px` });
    const steps = [1000, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000, 21600000, 86400000, 604800000];
    const step = steps.find((s) => s * pxPerMs >= 90) || steps[steps.length - 1];
    for (let t = 0; t <= axisMs; t += step) {
      node.append(el("span", { class: "tick", style: `left:${t * pxPerMs}px` }, offsetText(t).replace(/\.000$/, "")));
    }
    return node;
  }

  function drawLane(lane, { pxPerMs, width, nowMs, onSelect }) {
    const node = el("div", {
      class: "lane", "data-lane-kind": lane.kind, "data-resource": lane.resource, "data-subject": lane.subject,
    });
    const attempts = lane.items.filter((i) => i.type === "attempt");
    const causes = lane.items.filter((i) => i.type === "mark" && (i.mark === "redelivery" || i.mark === "backoff"));
    const label = el("div", { class: "lane-label", title: lane.label });
    label.append(el("span", { class: "lane-kind" }, lane.kind), el("span", { class: "lane-name" }, lane.label));
    label.append(el("span", { class: "lane-count" }, `${attempts.length} attempt${attempts.length === 1 ? "" : "s"}`));
    node.append(label);
    const packed = lane.kind === "worker" ? slots(attempts, nowMs) : { rows: 1, placed: attempts.map((a) => [a, 0]) };
    const causeCount = lane.items.filter((i) => i.type === "mark").length;
    const labelHeight = Math.min(Math.max(causeCount, 1), LABEL_ROWS) * LABEL_ROW_PX;
    const track = el("div", { class: "lane-track", style: `width:${width}px;height:${packed.rows * ROW_PX + labelHeight}px` });
    for (const item of lane.items) {
      if (item.type === "window") {
        track.append(el("div", {
          class: "window", title: `lease ${item.lease}`,
          style: `left:${item.start * pxPerMs}px;width:${Math.max(2, (item.end - item.start) * pxPerMs)}px`,
        }));
      }
    }
    for (const [a, row] of packed.placed) {
      const end = a.end === undefined ? nowMs : a.end;
      const box = el("div", {
        class: "attempt", "data-attempt": a.number, "data-outcome": a.outcome, "data-seq": a.seq,
        title: `attempt ${a.number}: ${a.outcome}${a.error ? ` (${a.error})` : ""}`,
        style: `left:${a.start * pxPerMs}px;width:${Math.max(6, (end - a.start) * pxPerMs)}px;top:${row * ROW_PX}px`,
      }, lane.kind === "worker" ? "" : `#${a.number}`);
      box.addEventListener("click", (ev) => { ev.stopPropagation(); onSelect && onSelect(a, lane); });
      track.append(box);
    }
    const labelRows = [];
    for (const item of lane.items) {
      if (item.type !== "mark") continue;
      const isCause = item.mark === "redelivery" || item.mark === "backoff";
      const at = item.at * pxPerMs;
      const text = isCause ? item.cause : item.mark in MARK_LABELS ? MARK_LABELS[item.mark] : item.mark;
      const textPx = LABEL_CHAR_PX * Math.max(text.length, 4) + 12;
      // A label that would run past the track's end sits left of its marker instead.
      const flip = at + textPx > width && at >= textPx;
      const left = flip ? at - textPx : at;
      // Labels stack in rows so none covers another; past LABEL_ROWS they stay in the DOM
      // (and the summary line) but are not drawn.
      let row = labelRows.findIndex((end) => end <= left);
      if (row < 0) { row = labelRows.length; labelRows.push(0); }
      labelRows[row] = left + textPx;
      const top = packed.rows * ROW_PX + Math.min(row, LABEL_ROWS - 1) * LABEL_ROW_PX;
      const classes = [isCause ? "redelivery" : "mark"];
      if (item.mark === "backoff") classes.push("backoff");
      if (flip) classes.push("flip");
      if (row >= LABEL_ROWS) classes.push("hidden-label");
      const node2 = el("div", {
        class: classes.join(" "),
        "data-mark": item.mark, "data-cause": item.cause, "data-seq": item.seq,
        title: `${offsetText(item.at)} ${item.mark}${item.cause ? `: ${item.cause}` : ""}`,
        style: `${flip ? `left:${left}px;width:${textPx}px` : `left:${left}px`};top:${top}px;--rise:${top}px`,
      }, text);
      node2.addEventListener("click", (ev) => { ev.stopPropagation(); onSelect && onSelect(item, lane); });
      track.append(node2);
    }
    if (causes.length) {
      const counts = new Map();
      for (const c of causes) counts.set(c.cause, (counts.get(c.cause) || 0) + 1);
      const summary = [...counts].map(([cause, n]) => (n > 1 ? `${n} × ${cause}` : cause)).join(" · ");
      node.append(el("div", { class: "causes" }, summary));
    }
    node.append(track);
    return node;
  }

  /// Fills `panel` with what is known of `item` on `lane`: times, attempt, handler error, the
  /// payload (from `payload`, a promise of text or undefined) and the events around it.
  function drawDetails(panel, timeline, item, lane, payload) {
    panel.replaceChildren();
    panel.append(el("h3", {}, lane.label));
    const rows = [];
    if (item.type === "attempt") {
      rows.push(["attempt", `${item.number}${item.reported && item.reported !== String(item.number) ? ` (the platform reports attempt=${item.reported})` : ""}`]);
      rows.push(["worker", item.worker || ""]);
      rows.push(["started", offsetText(item.start)]);
      rows.push(["ended", item.end === undefined ? "still running" : offsetText(item.end)]);
      rows.push(["outcome", item.outcome]);
      if (item.took) rows.push(["took", item.took]);
      if (item.error) rows.push(["handler error", item.error]);
    } else {
      rows.push(["event", item.mark], ["at", offsetText(item.at)]);
      if (item.cause) rows.push(["cause", item.cause]);
    }
    const dl = el("dl");
    for (const [k, v] of rows) dl.append(el("dt", {}, k), el("dd", { class: `field-${k.replace(/ /g, "-")}` }, v));
    panel.append(dl);
    const pay = el("pre", { class: "payload" }, lane.kind === "message" ? "payload: loading…" : "");
    if (lane.kind === "message") panel.append(pay);
    Promise.resolve(payload).then((text) => { pay.textContent = text === undefined ? "" : `payload: ${text}`; });
    panel.append(el("h4", {}, "trace events around it"));
    const list = el("ol", { class: "around" });
    const seqs = new Set([item.seq, item.endEvent && item.endEvent.seq]);
    for (const e of timeline.around(item.seq)) {
      list.append(el("li", { class: seqs.has(e.seq) ? "this" : "" }, `#${e.seq} ${eventLine(e)}`));
    }
    panel.append(list);
  }

  Object.assign(window.AlienTimeline, { drawLanes, drawDetails, el });
})();
