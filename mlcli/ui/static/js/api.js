// The JSON API the pages draw from. Errors arrive as {error_code, message, ...}.

export class ApiError extends Error {
  constructor(status, body) {
    super(body.message || `request failed (${status})`);
    this.status = status;
    this.body = body;
  }
}

async function parse(response) {
  const body = await response.json().catch(() => ({ message: `request failed (${response.status})` }));
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export async function get(path, params = {}) {
  return parse(await fetch(`/api/${path}${query(params)}`, { headers: { Accept: "application/json" } }));
}

export async function post(path, body) {
  return parse(await fetch(`/api/${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  }));
}

export const runPath = (runId) => `runs/${encodeURIComponent(runId)}`;
export const modelPath = (name) => `models/${encodeURIComponent(name)}`;

/** The URL of an artifact file (inline for images, else a download). */
export function artifactUrl(runId, path, download = false) {
  return `/api/${runPath(runId)}/artifacts/file${query({ path, download: download ? 1 : "" })}`;
}
