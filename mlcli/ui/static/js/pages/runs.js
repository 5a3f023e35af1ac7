// The runs table of one experiment: filter, sort, columns, pages, CSV, selection.
// Everything that makes the view is in the URL (?filter=&sort=&cols=&offset=&limit=),
// so a view can be shared by its address.

import { get, query } from "../api.js";
import { h, replace } from "../dom.js";
import { cell, columnTitle } from "../format.js";
import { navigate } from "../nav.js";

const INFO = ["status", "start_time", "duration", "git_commit", "user_id"];
const PAGE_SIZES = [25, 50, 100, 200];
let selection = { experiment: null, runs: new Map() };

function readView(experimentId) {
  const params = new URLSearchParams(location.search);
  const cols = params.get("cols");
  return {
    experiment: experimentId,
    filter: params.get("filter") || "",
    sort: params.get("sort") || "-start_time",
    cols: cols === null ? null : cols.split(",").filter(Boolean),
    offset: Math.max(0, parseInt(params.get("offset") || "0", 10) || 0),
    limit: parseInt(params.get("limit") || "50", 10) || 50,
  };
}

function viewUrl(view) {
  return `/experiments/${encodeURIComponent(view.experiment)}${query({
    filter: view.filter,
    sort: view.sort === "-start_time" ? "" : view.sort,
    cols: view.cols ? view.cols.join(",") : "",
    offset: view.offset || "",
    limit: view.limit === 50 ? "" : view.limit,
  })}`;
}

function apiParams(view, columns) {
  return {
    experiment: view.experiment,
    filter: view.filter,
    sort: view.sort,
    columns: columns ? columns.join(",") : undefined,
    offset: view.offset,
    limit: view.limit,
  };
}

export async function runsPage(experimentId) {
  if (selection.experiment !== experimentId) selection = { experiment: experimentId, runs: new Map() };
  const view = readView(experimentId);
  let page = null;
  let keys = null;

  const title = h("h1", null, "Runs");
  const filterInput = h("input", {
    id: "filter", name: "filter", type: "search", value: view.filter, spellcheck: "false",
    autocomplete: "off", placeholder: "metrics.acc > 0.9 and params.model = 'rf'",
    "aria-label": "Filter runs",
  });
  const filterError = h("div", { class: "filter-error", id: "filter-error", role: "alert", hidden: true });
  const form = h("form", { class: "filter-form", onsubmit: (event) => {
    event.preventDefault();
    update({ filter: filterInput.value.trim(), offset: 0 });
  } }, filterInput, h("button", { type: "submit" }, "Filter"),
  h("button", { type: "button", onclick: () => { filterInput.value = ""; update({ filter: "", offset: 0 }); } }, "Clear"));

  const chooserBody = h("div", { class: "chooser-body" }, h("p", { class: "muted" }, "Loading keys…"));
  const chooser = h("details", { class: "columns-chooser", id: "columns-chooser", ontoggle: () => { if (chooser.open) showChooser(); } },
    h("summary", null, "Columns"), chooserBody);
  const compareButton = h("button", { id: "compare-selected", type: "button", disabled: true, onclick: () => {
    const ids = [...selection.runs.keys()];
    navigate(`/compare${query({ runs: ids.join(",") })}`);
  } }, "Compare selected");
  const csvPage = h("a", { id: "csv-page", class: "button", download: "" }, "CSV (this page)");
  const csvAll = h("a", { id: "csv-all", class: "button", download: "" }, "CSV (all matching)");
  const toolbar = h("div", { class: "toolbar" }, chooser, compareButton, csvPage, csvAll);
  const summary = h("div", { class: "summary", id: "runs-summary" });
  const tableBox = h("div", { class: "table-box" }, h("p", { class: "muted" }, "Loading…"));
  const pager = h("div", { class: "pager", id: "pager" });
  const root = h("div", { class: "page runs-page" },
    h("p", { class: "crumbs" }, h("a", { href: "/" }, "Experiments"), " /"), title,
    form, filterError, toolbar, summary, tableBox, pager);

  function update(changes) {
    Object.assign(view, changes);
    history.pushState(null, "", viewUrl(view));
    load();
  }

  async function load() {
    try {
      page = await get("runs", apiParams(view, view.cols));
    } catch (error) {
      if (error.body && error.body.position !== undefined) {
        showFilterError(error);
        return;
      }
      replace(tableBox, h("div", { class: "error", role: "alert" }, error.message));
      return;
    }
    filterError.hidden = true;
    filterInput.removeAttribute("aria-invalid");
    draw();
  }

  function showFilterError(error) {
    const { message, position, text } = error.body;
    filterInput.setAttribute("aria-invalid", "true");
    replace(filterError,
      h("div", { class: "message" }, message),
      h("pre", { class: "caret" }, `${text}\n${" ".repeat(position)}^`));
    filterError.hidden = false;
    filterInput.focus();
    filterInput.setSelectionRange(position, Math.max(position, text.length));
  }

  function draw() {
    document.title = `${page.experiment.name} · mlcli`;
    replace(title, page.experiment.name);
    const columns = page.columns.map((c) => c.key);
    const shownParams = apiParams(view, columns);
    csvPage.href = `/api/runs.csv${query(shownParams)}`;
    csvAll.href = `/api/runs.csv${query({ ...shownParams, offset: "", limit: "", all: 1 })}`;
    csvAll.textContent = `CSV (all ${page.total.toLocaleString()} matching)`;
    const first = page.total ? page.offset + 1 : 0;
    const last = page.offset + page.runs.length;
    replace(summary, `${first.toLocaleString()}–${last.toLocaleString()} of ${page.total.toLocaleString()} runs`,
      view.filter ? ` matching ${view.filter}` : "");
    replace(tableBox, table(columns));
    replace(pager, pagerControls());
    updateCompareButton();
  }

  function sortButton(key) {
    const active = view.sort.replace(/^-/, "") === key;
    const descending = view.sort.startsWith("-");
    const arrow = active ? (descending ? " ▼" : " ▲") : "";
    return h("button", { type: "button", class: "sort", dataset: { key }, title: `Sort by ${key}`, onclick: () => {
      const next = active && !descending ? `-${key}` : active ? key : (key.startsWith("metrics.") || key === "start_time" ? `-${key}` : key);
      update({ sort: next, offset: 0 });
    } }, columnTitle(key), arrow);
  }

  function headerCell(key) {
    const active = view.sort.replace(/^-/, "") === key;
    return h("th", { "aria-sort": active ? (view.sort.startsWith("-") ? "descending" : "ascending") : undefined, scope: "col" }, sortButton(key));
  }

  function table(columns) {
    const all = h("input", { type: "checkbox", "aria-label": "Select all runs on this page", onchange: () => {
      for (const run of page.runs) {
        if (all.checked) selection.runs.set(run.run_id, run.run_name);
        else selection.runs.delete(run.run_id);
      }
      draw();
    } });
    all.checked = page.runs.length > 0 && page.runs.every((r) => selection.runs.has(r.run_id));
    const head = h("tr", null, h("th", { class: "select" }, all), headerCell("run_name"), columns.map(headerCell));
    const rows = page.runs.map((run) => {
      const box = h("input", { type: "checkbox", class: "select-run", "aria-label": `Select ${run.run_name}`, dataset: { runId: run.run_id }, onchange: () => {
        if (box.checked) selection.runs.set(run.run_id, run.run_name);
        else selection.runs.delete(run.run_id);
        updateCompareButton();
      } });
      box.checked = selection.runs.has(run.run_id);
      return h("tr", { dataset: { runId: run.run_id } },
        h("td", { class: "select" }, box),
        h("td", { class: "name" }, h("a", { href: `/runs/${encodeURIComponent(run.run_id)}`, class: "run-link" }, run.run_name)),
        columns.map((key) => {
          const value = run.values[key];
          const numeric = key.startsWith("metrics.") || key === "duration";
          const text = cell(key, value);
          return h("td", { class: numeric ? "num" : key === "status" ? `status status-${String(value).toLowerCase()}` : undefined, title: key.startsWith("metrics.") ? String(value ?? "") : undefined, dataset: { column: key } }, text);
        }));
    });
    if (!rows.length) {
      rows.push(h("tr", null, h("td", { colspan: columns.length + 2, class: "muted" }, view.filter ? "No run matches the filter." : "No runs yet.")));
    }
    return h("table", { class: "grid-table runs-table", id: "runs-table" }, h("thead", null, head), h("tbody", null, rows));
  }

  function pagerControls() {
    const pages = Math.max(1, Math.ceil(page.total / view.limit));
    const current = Math.floor(view.offset / view.limit) + 1;
    const go = (n) => update({ offset: (Math.min(Math.max(n, 1), pages) - 1) * view.limit });
    const size = h("select", { "aria-label": "Runs per page", onchange: () => update({ limit: Number(size.value), offset: 0 }) },
      PAGE_SIZES.map((n) => h("option", { value: n, selected: n === view.limit }, `${n} per page`)));
    return [
      h("button", { type: "button", disabled: current <= 1, onclick: () => go(1) }, "« First"),
      h("button", { type: "button", disabled: current <= 1, onclick: () => go(current - 1), id: "prev-page" }, "‹ Prev"),
      h("span", { class: "page-number" }, `Page ${current.toLocaleString()} of ${pages.toLocaleString()}`),
      h("button", { type: "button", disabled: current >= pages, onclick: () => go(current + 1), id: "next-page" }, "Next ›"),
      h("button", { type: "button", disabled: current >= pages, onclick: () => go(pages) }, "Last »"),
      size,
    ];
  }

  function updateCompareButton() {
    const n = selection.runs.size;
    compareButton.disabled = n < 1;
    compareButton.textContent = n ? `Compare selected (${n})` : "Compare selected";
  }

  async function showChooser() {
    if (!keys) {
      try {
        keys = await get(`experiments/${encodeURIComponent(experimentId)}/keys`);
      } catch (error) {
        replace(chooserBody, h("div", { class: "error" }, error.message));
        return;
      }
    }
    const shown = new Set(page ? page.columns.map((c) => c.key) : view.cols || []);
    const search = h("input", { type: "search", placeholder: "Find a key", "aria-label": "Find a column", oninput: () => {
      const needle = search.value.toLowerCase();
      for (const label of chooserBody.querySelectorAll("label[data-key]")) {
        label.hidden = needle && !label.dataset.key.toLowerCase().includes(needle);
      }
    } });
    const groups = [
      ["Run", INFO],
      ["Params", keys.params.map((k) => `params.${k}`)],
      ["Metrics", keys.metrics.map((k) => `metrics.${k}`)],
      ["Tags", keys.tags.map((k) => `tags.${k}`)],
    ];
    const choose = () => {
      const chosen = [...chooserBody.querySelectorAll("input[type=checkbox]:checked")].map((b) => b.value);
      update({ cols: chosen });
    };
    replace(chooserBody, search, groups.filter(([, items]) => items.length).map(([name, items]) => h("fieldset", null,
      h("legend", null, name),
      items.map((key) => h("label", { dataset: { key } },
        h("input", { type: "checkbox", value: key, checked: shown.has(key), onchange: choose }),
        " ", name === "Run" ? columnTitle(key) : key.replace(/^[a-z]+\./, ""))))));
  }

  await load();
  return root;
}

