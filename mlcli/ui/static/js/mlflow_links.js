// MLflow's links ("View run at http://server/#/experiments/1/runs/<id>") point into
// MLflow's web UI, which routes on the URL's #fragment. The fragment never reaches the
// server, so the page translates it here into the dashboard's own paths.

const MLFLOW_ROUTES = [
  [/^#\/experiments\/[^/]+\/runs\/([^/?#]+)(?:[/?].*)?$/, (m) => `/runs/${m[1]}`],
  [/^#\/experiments\/([^/?#]+)(?:[/?].*)?$/, (m) => `/experiments/${m[1]}`],
  [/^#\/models\/([^/?#]+)(?:[/?].*)?$/, (m) => `/models/${m[1]}`],
  [/^#\/models\/?$/, () => "/models"],
  [/^#\/?$/, () => "/"],
];

/** The dashboard's path for an MLflow #fragment route, or null if it is none. */
export function fromMlflowLink(hash) {
  if (!hash.startsWith("#/")) return null;
  for (const [pattern, path] of MLFLOW_ROUTES) {
    const match = hash.match(pattern);
    if (match) return path(match);
  }
  return null;
}
