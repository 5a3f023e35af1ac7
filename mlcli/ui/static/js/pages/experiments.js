// Experiments: each with its run count and last activity.

import { get } from "../api.js";
import { h } from "../dom.js";
import { ago, timestamp } from "../format.js";

export async function experimentsPage() {
  const { experiments } = await get("experiments");
  document.title = "Experiments · mlcli";
  const rows = experiments.map((e) => h("tr", null,
    h("td", null, h("a", { href: `/experiments/${encodeURIComponent(e.experiment_id)}`, class: "experiment-link" }, e.name)),
    h("td", { class: "num" }, e.experiment_id),
    h("td", { class: "num" }, e.run_count.toLocaleString()),
    h("td", { title: timestamp(e.last_activity) }, e.last_activity ? `${timestamp(e.last_activity)} (${ago(e.last_activity)})` : ""),
  ));
  return h("div", { class: "page experiments-page" },
    h("h1", null, "Experiments"),
    experiments.length
      ? h("table", { class: "grid-table", id: "experiments" },
        h("thead", null, h("tr", null, h("th", null, "Name"), h("th", null, "ID"), h("th", null, "Runs"), h("th", null, "Last activity"))),
        h("tbody", null, rows))
      : h("p", { class: "muted" }, "No experiments yet: log a run with mlcli or mlcli.start_run()."));
}
