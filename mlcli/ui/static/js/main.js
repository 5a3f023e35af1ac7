// The router: every path serves this page; the path picks what main shows.

import { errorBox, replace, h } from "./dom.js";
import { navigate, setRenderer } from "./nav.js";
import { fromMlflowLink } from "./mlflow_links.js";
import { experimentsPage } from "./pages/experiments.js";
import { runsPage } from "./pages/runs.js";
import { runPage } from "./pages/run.js";
import { comparePage } from "./pages/compare.js";
import { modelsPage, modelPage } from "./pages/models.js";

const ROUTES = [
  [/^\/$/, () => experimentsPage(), "experiments"],
  [/^\/experiments\/([^/]+)$/, (m) => runsPage(decodeURIComponent(m[1])), "experiments"],
  [/^\/runs\/([^/]+)$/, (m) => runPage(decodeURIComponent(m[1])), "experiments"],
  [/^\/compare$/, () => comparePage(), "experiments"],
  [/^\/models$/, () => modelsPage(), "models"],
  [/^\/models\/([^/]+)$/, (m) => modelPage(decodeURIComponent(m[1])), "models"],
];

const app = document.getElementById("app");
let generation = 0;

/** Show the page of the current URL. */
async function render() {
  const current = ++generation;
  const path = location.pathname;
  const route = ROUTES.find(([pattern]) => pattern.test(path));
  for (const link of document.querySelectorAll("header nav a")) {
    link.classList.toggle("active", Boolean(route) && link.dataset.section === route[2]);
  }
  if (!route) {
    replace(app, h("h1", null, "Not found"), h("p", null, `Nothing lives at ${path}.`));
    return;
  }
  try {
    const page = await route[1](path.match(route[0]));
    if (current === generation) replace(app, page);
  } catch (error) {
    if (current === generation) replace(app, errorBox(error));
  }
}


document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (link.hasAttribute("download") || link.target || link.origin !== location.origin) return;
  if (link.pathname.startsWith("/api/") || link.pathname.startsWith("/static/")) return;
  event.preventDefault();
  navigate(link.pathname + link.search);
});

window.addEventListener("popstate", render);
setRenderer(render);
const mlflowPath = location.pathname === "/" ? fromMlflowLink(location.hash) : null;
if (mlflowPath) history.replaceState(null, "", mlflowPath);
render();
