// Runs side by side: the values with differences highlighted and each metric's best
// value marked, overlaid metric histories, and parallel coordinates for sweeps.

import { get } from "../api.js";
import { h, replace, section } from "../dom.js";
import { cell, columnTitle } from "../format.js";
import { lineChart } from "../charts/lines.js";
import { parallelCoordinates } from "../charts/parallel.js";

export async function comparePage() {
  const runs = (new URLSearchParams(location.search).get("runs") || "").split(",").filter(Boolean);
  const data = await get("compare", { runs: runs.join(",") });
  document.title = `Compare ${data.runs.length} runs · mlcli`;
  return h("div", { class: "page compare-page" },
    h("h1", null, `Compare ${data.runs.length} runs`),
    sideBySide(data),
    overlaidCharts(data),
    parallelSection(data));
}

function sideBySide(data) {
  const onlyChanged = h("input", { type: "checkbox", id: "only-changed", onchange: () => draw() });
  const box = h("div", { class: "table-scroll" });
  const changed = new Set(data.changed);
  const fields = data.columns.filter((c) => c.key !== "run_id" && c.key !== "run_name");
  function draw() {
    const shown = fields.filter((c) => !onlyChanged.checked || changed.has(c.key));
    replace(box, h("table", { class: "grid-table compare-table", id: "compare-table" },
      h("thead", null, h("tr", null, h("th", null, ""), data.runs.map((run) =>
        h("th", { scope: "col" }, h("a", { href: `/runs/${encodeURIComponent(run.run_id)}` }, run.run_name))))),
      h("tbody", null, shown.map((column) => h("tr", { class: changed.has(column.key) ? "changed" : undefined, dataset: { key: column.key } },
        h("th", { scope: "row" }, columnTitle(column.key)),
        data.rows.map((row, index) => {
          const best = (data.best[column.key] || []).includes(index);
          return h("td", { class: [column.kind === "metric" ? "num" : "", best ? "best" : ""].join(" ").trim() || undefined, title: best ? "best value" : undefined },
            cell(column.key, row[column.key]));
        }))))));
  }
  draw();
  return section("Side by side", h("label", { class: "control" }, onlyChanged, " only differences"),
    h("p", { class: "muted" }, "Highlighted rows differ between the runs; the best value of each metric is in bold."), box);
}

function overlaidCharts(data) {
  if (!data.metric_keys.length) return null;
  const metric = h("select", { id: "compare-metric", "aria-label": "Metric", onchange: () => load() },
    data.metric_keys.map((k) => h("option", { value: k }, k)));
  const xMode = h("select", { "aria-label": "X axis", onchange: () => draw() },
    h("option", { value: "step" }, "x: step"),
    h("option", { value: "relative" }, "x: time since start"),
    h("option", { value: "wall" }, "x: wall time"));
  const log = h("input", { type: "checkbox", onchange: () => draw() });
  const box = h("div", { class: "charts", id: "compare-chart" });
  let answer = null;
  async function load() {
    try {
      answer = await get("metric-history", { runs: data.runs.map((r) => r.run_id).join(","), keys: metric.value });
    } catch (error) {
      replace(box, h("div", { class: "error" }, error.message));
      return;
    }
    draw();
  }
  function draw() {
    const series = answer.runs.filter((r) => r.metrics[metric.value]).map((r) => ({ label: r.run_name, ...r.metrics[metric.value] }));
    replace(box, lineChart({ title: metric.value, series, xMode: xMode.value, log: log.checked, width: 860, height: 340 }));
  }
  load();
  return section("Metric histories", h("div", { class: "chart-controls" }, metric, xMode, h("label", null, log, " log scale")), box);
}

function parallelSection(data) {
  if (data.runs.length < 2 || !data.param_keys.length || !data.metric_keys.length) return null;
  const changed = new Set(data.changed);
  const varying = data.param_keys.filter((k) => changed.has(`params.${k}`));
  const params = varying.length ? varying : data.param_keys;
  const metric = h("select", { id: "parallel-metric", "aria-label": "Metric", onchange: () => draw() },
    data.metric_keys.map((k) => h("option", { value: k }, k)));
  const box = h("div", { id: "parallel-chart" });
  function draw() {
    const keys = [...params.map((k) => `params.${k}`), `metrics.${metric.value}`];
    const rows = data.rows.map((row, i) => ({ label: data.runs[i].run_name, values: row }));
    replace(box, parallelCoordinates({ rows, keys, metric: `metrics.${metric.value}` }));
  }
  draw();
  return section("Params → metric", h("div", { class: "chart-controls" }, metric,
    h("span", { class: "muted" }, ` ${params.length} param axes${varying.length ? " (those that vary)" : ""}; lines coloured by the metric, blue low to red high`)), box);
}
