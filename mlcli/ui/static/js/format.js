// Values as people read them.

export function number(value) {
  if (value === null || value === undefined || value === "") return "";
  if (typeof value === "string") return value; // "NaN", "Infinity", "-Infinity"
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e7)) return value.toExponential(4);
  return String(Number(value.toPrecision(6)));
}

export function timestamp(ms) {
  if (ms === null || ms === undefined) return "";
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function duration(ms) {
  if (ms === null || ms === undefined || ms < 0) return "";
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  let minutes = Math.floor(seconds / 60);
  const sec = Math.floor(seconds % 60);
  if (minutes < 60) return `${minutes}m${String(sec).padStart(2, "0")}s`;
  let hours = Math.floor(minutes / 60);
  minutes %= 60;
  if (hours < 48) return `${hours}h${String(minutes).padStart(2, "0")}m`;
  const days = Math.floor(hours / 24);
  hours %= 24;
  return `${days}d${String(hours).padStart(2, "0")}h`;
}

export function ago(ms) {
  if (!ms) return "";
  const seconds = (Date.now() - ms) / 1000;
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} days ago`;
}

export function bytes(size) {
  if (size === null || size === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export const shortId = (id) => (id ? id.slice(0, 8) : "");
export const shortCommit = (sha) => (sha ? sha.slice(0, 7) : "");

/** A column's title: short names for run facts, the key otherwise. */
export function columnTitle(key) {
  return {
    run_name: "Name", status: "Status", start_time: "Started", duration: "Duration",
    duration_ms: "Duration", git_commit: "Commit", user_id: "User", run_id: "Run",
  }[key] || key;
}

/** One cell of the runs table or the comparison. */
export function cell(key, value) {
  if (value === null || value === undefined) return "";
  if (key === "start_time") return timestamp(value);
  if (key === "duration" || key === "duration_ms") return duration(value);
  if (key === "git_commit") return shortCommit(value);
  if (key.startsWith("metrics.")) return number(value);
  return String(value);
}
