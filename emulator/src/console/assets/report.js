// The `alien simulate --html` report: the runs embedded in the page (`#runs`), each drawn as a
// section of lanes; with `shared_axis` (--diff-platforms) every section of a scenario uses one
// time axis so the platforms line up.
"use strict";
(() => {
  const { Timeline, drawLanes, drawDetails, el } = window.AlienTimeline;
  const data = JSON.parse(document.getElementById("runs").textContent);
  const root = document.getElementById("report");
  const details = document.getElementById("details");
  const width = Math.max(root.clientWidth - 280, 400);

  const built = data.runs.map((run) => {
    const timeline = new Timeline({ maxEvents: run.events.length + 1, maxLanes: Infinity });
    for (const e of run.events) timeline.apply(e);
    return { run, timeline };
  });
  const axisByScenario = new Map();
  for (const { run, timeline } of built) {
    const key = data.shared_axis ? run.scenario : `${run.scenario}\u0000${run.platform}`;
    axisByScenario.set(key, Math.max(axisByScenario.get(key) || 1000, timeline.endMs * 1.05));
  }

  /// The payload a `sent` event carried (the report traces payloads).
  function payloadOf(timeline, lane) {
    const sent = timeline.events.find((e) => e.kind === "sent" && e.resource === lane.resource && e.subject === lane.subject);
    const payload = sent && window.AlienTimeline.detail(sent, "payload");
    return payload === undefined ? "not recorded" : payload;
  }

  let zoom = 1;
  const sections = [];
  for (const { run, timeline } of built) {
    const key = data.shared_axis ? run.scenario : `${run.scenario}\u0000${run.platform}`;
    const axisMs = axisByScenario.get(key);
    const section = el("section", { class: "platform", "data-platform": run.platform, "data-scenario": run.scenario });
    const verdict = run.passed ? "PASS" : "FAIL";
    const ran = window.AlienTimeline.offsetText(run.end_ms).replace(/^\+/, "");
    section.append(el("h2", {}, `${run.scenario} on ${run.platform} · seed ${run.seed} · ran ${ran} of virtual time · ${verdict}`));
    if (run.failures.length) section.append(el("ul", { class: "failures" }, undefined));
    for (const f of run.failures) section.lastChild.append(el("li", {}, f));
    const lanesBox = el("div", { class: "lanes" });
    section.append(lanesBox);
    root.append(section);
    sections.push({ lanesBox, timeline, axisMs });
  }

  function draw() {
    for (const { lanesBox, timeline, axisMs } of sections) {
      const { lanes } = timeline.visible({}, Infinity);
      drawLanes(lanesBox, lanes, {
        axisMs,
        pxPerMs: (width / axisMs) * zoom,
        nowMs: timeline.endMs,
        onSelect: (item, lane) => drawDetails(details, timeline, item, lane, lane.kind === "message" ? payloadOf(timeline, lane) : undefined),
      });
    }
  }
  document.getElementById("zoom-in").addEventListener("click", () => { zoom *= 4; draw(); });
  document.getElementById("zoom-out").addEventListener("click", () => { zoom = Math.max(1, zoom / 4); draw(); });
  document.getElementById("zoom-fit").addEventListener("click", () => { zoom = 1; draw(); });
  draw();
  document.body.dataset.ready = "1";
})();
