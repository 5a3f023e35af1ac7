// One run: facts, params, metrics with charts, tags, git lineage, artifacts, models.

import { artifactUrl, get, runPath } from "../api.js";
import { fieldsTable, h, replace, section } from "../dom.js";
import { bytes, duration, number, shortId, timestamp } from "../format.js";
import { lineChart } from "../charts/lines.js";

const MAX_CHARTS = 24;

export async function runPage(runRef) {
  const detail = await get(runPath(runRef));
  const run = detail.run;
  document.title = `${run.run_name} · mlcli`;
  const experimentHref = `/experiments/${encodeURIComponent(run.experiment_id)}`;
  return h("div", { class: "page run-page" },
    h("p", { class: "crumbs" }, h("a", { href: "/" }, "Experiments"), " / ",
      h("a", { href: experimentHref }, run.experiment_name || run.experiment_id), " / ", shortId(run.run_id)),
    h("h1", { id: "run-name" }, run.run_name, " ", h("span", { class: `badge status-${run.status.toLowerCase()}` }, run.status)),
    h("div", { class: "columns" },
      section("Run", fieldsTable([
        ["Run ID", h("code", null, run.run_id)],
        ["Experiment", h("a", { href: experimentHref }, run.experiment_name || run.experiment_id)],
        ["Status", run.status],
        ["Started", timestamp(run.start_time)],
        ["Ended", timestamp(run.end_time)],
        ["Duration", duration(run.duration)],
        ["User", run.user_id],
        ["Parent run", run.parent_run_id ? h("a", { href: `/runs/${encodeURIComponent(run.parent_run_id)}` }, shortId(run.parent_run_id)) : ""],
        ["Lifecycle", run.lifecycle_stage],
      ])),
      section("Params", Object.keys(detail.params).length
        ? fieldsTable(Object.entries(detail.params).map(([k, v]) => [k, v]), "fields params")
        : h("p", { class: "muted" }, "No params."))),
    metricsSection(run, detail.metrics),
    section("Tags", Object.keys(detail.tags).length
      ? fieldsTable(Object.entries(detail.tags), "fields tags")
      : h("p", { class: "muted" }, "No tags."),
    Object.keys(detail.system_tags).length
      ? h("details", null, h("summary", null, `System tags (${Object.keys(detail.system_tags).length})`),
        fieldsTable(Object.entries(detail.system_tags), "fields system-tags"))
      : null),
    lineageSection(detail.lineage),
    modelsSection(detail.models),
    artifactsSection(run.run_id));
}

function metricsSection(run, metrics) {
  if (!metrics.length) return section("Metrics", h("p", { class: "muted" }, "No metrics."));
  const latest = h("table", { class: "grid-table metrics-table" },
    h("thead", null, h("tr", null, h("th", null, "Metric"), h("th", null, "Latest"), h("th", null, "Step"), h("th", null, "Logged"))),
    h("tbody", null, metrics.map((m) => h("tr", null,
      h("td", null, m.key), h("td", { class: "num", title: String(m.value) }, number(m.value)),
      h("td", { class: "num" }, m.step), h("td", null, timestamp(m.timestamp))))));
  const xMode = h("select", { id: "x-axis", "aria-label": "X axis", onchange: () => draw() },
    h("option", { value: "step" }, "x: step"),
    h("option", { value: "relative" }, "x: time since start"),
    h("option", { value: "wall" }, "x: wall time"));
  const log = h("input", { type: "checkbox", id: "log-scale", onchange: () => draw() });
  const charts = h("div", { class: "charts", id: "metric-charts" }, h("p", { class: "muted" }, "Loading histories…"));
  let histories = null;
  let showAll = false;

  function draw() {
    const keys = Object.keys(histories);
    const shown = showAll ? keys : keys.slice(0, MAX_CHARTS);
    replace(charts, shown.map((key) => {
      const history = histories[key];
      const note = history.total_points > history.values.length
        ? h("figcaption", { class: "muted" }, `${history.total_points.toLocaleString()} points, thinned to ${history.values.length.toLocaleString()} for drawing`)
        : null;
      const figure = lineChart({ title: key, series: [{ label: run.run_name, ...history }], xMode: xMode.value, log: log.checked });
      if (note) figure.append(note);
      return figure;
    }), keys.length > shown.length
      ? h("button", { type: "button", onclick: () => { showAll = true; draw(); } }, `Show all ${keys.length} charts`)
      : null);
  }

  get("metric-history", { runs: run.run_id }).then((answer) => {
    histories = answer.runs[0].metrics;
    draw();
  }).catch((error) => replace(charts, h("div", { class: "error" }, error.message)));

  return section("Metrics", latest,
    h("div", { class: "chart-controls" }, xMode, h("label", null, log, " log scale")),
    charts);
}

function lineageSection(lineage) {
  if (!lineage) return null;
  const rows = [
    ["Commit", lineage.commit ? h("code", { id: "git-commit" }, lineage.commit) : ""],
    ["Branch", lineage.branch || ""],
    ["Repository", lineage.repo_url || ""],
    ["Uncommitted changes", lineage.dirty === null ? "" : lineage.dirty ? "yes" : "no"],
    ["Source", lineage.source_name || ""],
  ];
  const diff = lineage.diff
    ? h("details", { open: true }, h("summary", null, `Uncommitted diff (${lineage.diff.path})`),
      h("pre", { class: "diff", id: "uncommitted-diff" }, lineage.diff.text),
      lineage.diff.truncated ? h("p", { class: "muted" }, "Cut short: download the artifact for all of it.") : null)
    : null;
  return section("Git lineage", fieldsTable(rows), diff);
}

function schemaTable(title, specs) {
  if (!specs) return null;
  return h("div", { class: "schema" }, h("h4", null, title),
    h("table", { class: "grid-table" },
      h("thead", null, h("tr", null, h("th", null, "Name"), h("th", null, "Type"), h("th", null, "Details"))),
      h("tbody", null, specs.map((spec) => h("tr", null,
        h("td", null, spec.name ?? h("span", { class: "muted" }, "(positional)")),
        h("td", null, spec.type === "tensor" ? `tensor ${spec["tensor-spec"].dtype}` : spec.type),
        h("td", null, spec.default !== undefined ? `default ${JSON.stringify(spec.default)}`
          : spec.type === "tensor" ? `shape (${spec["tensor-spec"].shape.join(", ")})`
            : spec.required === false ? "optional" : "required"))))));
}

function modelsSection(models) {
  if (!models.length) return null;
  return section("Logged models", models.map((model) => h("div", { class: "model", dataset: { path: model.path } },
    h("h3", null, model.path),
    model.error ? h("div", { class: "error" }, model.error) : fieldsTable([
      ["Flavors", model.flavors.join(", ")],
      ["Created", model.utc_time_created || ""],
      ["Model URI", h("code", null, `runs:/${model.run_id || ""}/${model.path}`)],
    ]),
    model.signature
      ? h("div", { class: "signature" }, schemaTable("Inputs", model.signature.inputs),
        schemaTable("Outputs", model.signature.outputs), schemaTable("Params", model.signature.params))
      : h("p", { class: "muted" }, "No signature."))));
}

function artifactsSection(runId) {
  const crumbs = h("div", { class: "artifact-crumbs" });
  const list = h("ul", { class: "artifact-list", id: "artifact-list" });
  const preview = h("div", { class: "artifact-preview", id: "artifact-preview" }, h("p", { class: "muted" }, "Choose a file to preview it."));

  async function open(path) {
    let listing;
    try {
      listing = await get(`${runPath(runId)}/artifacts`, { path });
    } catch (error) {
      replace(list, h("li", { class: "error" }, error.message));
      return;
    }
    const parts = listing.path ? listing.path.split("/") : [];
    replace(crumbs, h("a", { href: "#", onclick: (e) => { e.preventDefault(); open(""); } }, "artifacts"),
      parts.map((part, i) => [" / ", h("a", { href: "#", onclick: (e) => { e.preventDefault(); open(parts.slice(0, i + 1).join("/")); } }, part)]));
    if (!listing.entries.length) {
      replace(list, h("li", { class: "muted" }, "No artifacts."));
      return;
    }
    replace(list, listing.entries.map((entry) => h("li", { class: entry.is_dir ? "dir" : "file" },
      h("a", { href: "#", class: "artifact-entry", dataset: { path: entry.path }, onclick: (e) => {
        e.preventDefault();
        if (entry.is_dir) open(entry.path);
        else show(entry.path);
      } }, entry.is_dir ? `${entry.name}/` : entry.symlink != null ? `${entry.name} → ${entry.symlink}` : entry.name),
      entry.is_dir ? null : [" ", h("span", { class: "muted" }, bytes(entry.file_size)), " ",
        h("a", { href: artifactUrl(runId, entry.path, true), download: entry.name, class: "download" }, "download")])));
  }

  async function show(path) {
    replace(preview, h("p", { class: "muted" }, `Loading ${path}…`));
    let file;
    try {
      file = await get(`${runPath(runId)}/artifacts/preview`, { path });
    } catch (error) {
      replace(preview, h("div", { class: "error" }, error.message));
      return;
    }
    const header = h("div", { class: "preview-header" }, h("strong", null, file.path), " ",
      h("span", { class: "muted" }, bytes(file.size)), " ",
      h("a", { href: artifactUrl(runId, file.path, true), download: file.name, class: "button" }, "Download"));
    let body;
    if (file.kind === "image") {
      body = h("img", { src: artifactUrl(runId, file.path), alt: file.name, class: "artifact-image" });
    } else if (file.kind === "table") {
      const [head, ...rows] = file.rows;
      body = h("div", { class: "table-scroll" }, h("table", { class: "grid-table csv-table" },
        head ? h("thead", null, h("tr", null, head.map((c) => h("th", null, c)))) : null,
        h("tbody", null, rows.map((row) => h("tr", null, row.map((c) => h("td", null, c)))))));
    } else if (file.kind === "binary") {
      body = h("p", { class: "muted" }, "A binary file: download it to open it.");
    } else {
      body = h("pre", { class: `text-preview kind-${file.kind}` }, file.text);
    }
    replace(preview, header, file.note ? h("p", { class: "muted" }, file.note) : null, body,
      file.truncated ? h("p", { class: "muted" }, "Preview cut short: download the file for all of it.") : null);
  }

  open("");
  return section("Artifacts", h("div", { class: "artifacts" }, h("div", { class: "artifact-tree" }, crumbs, list), preview));
}


