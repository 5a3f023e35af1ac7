// The model registry: models, versions with stage, aliases and source run, the event
// history, and promotion (a stage or an alias) through the gated promote.

import { get, modelPath, post } from "../api.js";
import { h, replace, section } from "../dom.js";
import { shortId, timestamp } from "../format.js";

export async function modelsPage() {
  const { models } = await get("models");
  document.title = "Models · mlcli";
  return h("div", { class: "page models-page" }, h("h1", null, "Registered models"),
    models.length ? h("table", { class: "grid-table", id: "models-table" },
      h("thead", null, h("tr", null, ["Name", "Versions", "Latest", "Stages", "Aliases", "Updated"].map((t) => h("th", null, t)))),
      h("tbody", null, models.map((m) => h("tr", null,
        h("td", null, h("a", { href: `/models/${encodeURIComponent(m.name)}` }, m.name)),
        h("td", { class: "num" }, m.version_count),
        h("td", { class: "num" }, m.latest_version ?? ""),
        h("td", null, Object.entries(m.stages).map(([stage, v]) => `${stage}: v${v}`).join(", ")),
        h("td", null, Object.entries(m.aliases).map(([alias, v]) => `@${alias}: v${v}`).join(", ")),
        h("td", null, timestamp(m.last_update_time))))))
      : h("p", { class: "muted" }, "No registered models: register one with mlcli register."));
}

export async function modelPage(name) {
  const root = h("div", { class: "page model-page" });
  async function load(message) {
    const data = await get(modelPath(name));
    document.title = `${data.model.name} · mlcli`;
    replace(root,
      h("p", { class: "crumbs" }, h("a", { href: "/models" }, "Models"), " / ", data.model.name),
      h("h1", null, data.model.name),
      data.model.description ? h("p", null, data.model.description) : null,
      versionsSection(data),
      promoteSection(data, load, message),
      eventsSection(data.events));
  }
  await load(null);
  return root;
}

function versionsSection(data) {
  return section("Versions", h("table", { class: "grid-table", id: "versions-table" },
    h("thead", null, h("tr", null, ["Version", "Stage", "Aliases", "Source run", "Commit", "Created", "Description"].map((t) => h("th", null, t)))),
    h("tbody", null, data.versions.map((v) => h("tr", { dataset: { version: v.version } },
      h("td", { class: "num" }, `v${v.version}`),
      h("td", { class: `stage stage-${v.stage.toLowerCase()}` }, v.stage),
      h("td", null, v.aliases.map((a) => `@${a}`).join(" ")),
      h("td", null, v.run_id ? h("a", { href: `/runs/${encodeURIComponent(v.run_id)}` }, v.run_name || shortId(v.run_id)) : ""),
      h("td", null, v.git_commit ? h("code", null, v.git_commit.slice(0, 7)) : ""),
      h("td", null, timestamp(v.creation_time)),
      h("td", null, v.description))))));
}

function promoteSection(data, reload, message) {
  const version = h("select", { name: "version", id: "promote-version", "aria-label": "Version" },
    data.versions.map((v) => h("option", { value: v.version }, `v${v.version} (${v.stage})`)));
  const target = h("select", { name: "target", id: "promote-target", "aria-label": "What to set", onchange: () => toggle() },
    h("option", { value: "stage" }, "Stage"), h("option", { value: "alias" }, "Alias"));
  const stage = h("select", { name: "stage", id: "promote-stage", "aria-label": "Stage" },
    data.stages.map((s) => h("option", { value: s }, s)));
  const alias = h("input", { name: "alias", id: "promote-alias", placeholder: "champion", "aria-label": "Alias", hidden: true });
  const archive = h("input", { type: "checkbox", name: "archive_existing", id: "promote-archive" });
  const archiveLabel = h("label", null, archive, " archive the versions now in that stage");
  const require = h("input", { name: "require", id: "promote-require", placeholder: "metrics.accuracy >= 0.8 (optional gate)", "aria-label": "Require" });
  const comment = h("input", { name: "comment", id: "promote-comment", placeholder: "comment (recorded in the history)", "aria-label": "Comment" });
  const result = h("div", { id: "promote-result", role: "status" });
  if (message) replace(result, message);
  function toggle() {
    const isStage = target.value === "stage";
    stage.hidden = !isStage;
    archiveLabel.hidden = !isStage;
    alias.hidden = isStage;
  }
  const form = h("form", { class: "promote-form", id: "promote-form", onsubmit: async (event) => {
    event.preventDefault();
    const body = { require: require.value.trim(), comment: comment.value.trim() };
    if (target.value === "stage") {
      body.stage = stage.value;
      body.archive_existing = archive.checked;
    } else {
      body.alias = alias.value.trim();
    }
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const answer = await post(`${modelPath(data.model.name)}/versions/${version.value}/promote`, body);
      const done = answer.changed
        ? `Version ${answer.version.version} promoted${answer.checks.length ? `: ${answer.checks.join("; ")}` : "."}`
        : `Version ${answer.version.version} already held that: nothing changed.`;
      await reload(h("div", { class: "notice" }, done));
    } catch (error) {
      replace(result, h("div", { class: "error", role: "alert" }, error.message));
      button.disabled = false;
    }
  } }, version, target, stage, alias, archiveLabel, require, comment, h("button", { type: "submit" }, "Promote"));
  toggle();
  return section("Promote", h("p", { class: "muted" },
    "The same gated promotion as mlcli promote: the gate is a filter over the version's source run, and the change goes into the history."),
  form, result);
}

function eventsSection(events) {
  return section("History", h("table", { class: "grid-table", id: "events-table" },
    h("thead", null, h("tr", null, ["When", "Who", "What", "Version", "From", "To", "Comment"].map((t) => h("th", null, t)))),
    h("tbody", null, events.map((e) => h("tr", null,
      h("td", null, timestamp(e.time)), h("td", null, e.user), h("td", null, e.action),
      h("td", { class: "num" }, e.version ?? ""), h("td", null, e.from ?? ""), h("td", null, e.to ?? ""),
      h("td", null, e.comment ?? ""))))));
}
