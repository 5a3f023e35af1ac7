// Scales and ticks for the charts: linear and logarithmic, numbers and times.

export const PALETTE = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
];

export const color = (index) => PALETTE[index % PALETTE.length];

/** [low, high] of finite values, widened when flat. */
export function extent(values) {
  let low = Infinity;
  let high = -Infinity;
  for (const v of values) {
    if (Number.isFinite(v)) {
      if (v < low) low = v;
      if (v > high) high = v;
    }
  }
  if (low === Infinity) return [0, 1];
  if (low === high) {
    const pad = Math.abs(low) * 0.05 || 0.5;
    return [low - pad, high + pad];
  }
  return [low, high];
}

/** Round tick values 1, 2 or 5 times a power of ten apart, within [low, high]. */
export function niceTicks(low, high, count = 6) {
  const span = high - low;
  if (!(span > 0) || !Number.isFinite(span)) return [low];
  const raw = span / Math.max(1, count - 1);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  const ticks = [];
  for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) {
    ticks.push(Number(v.toPrecision(12)));
  }
  return ticks;
}

/** A scale mapping [low, high] onto [from, to] pixels, linearly or by log10. */
export function scale(low, high, from, to, log = false) {
  if (log) {
    const lo = Math.log10(low);
    const hi = Math.log10(high);
    const map = (v) => from + ((Math.log10(v) - lo) / (hi - lo || 1)) * (to - from);
    map.ticks = () => logTicks(low, high);
    return map;
  }
  const map = (v) => from + ((v - low) / (high - low || 1)) * (to - from);
  map.ticks = (count) => niceTicks(low, high, count);
  return map;
}

function logTicks(low, high) {
  const ticks = [];
  for (let p = Math.floor(Math.log10(low)); p <= Math.ceil(Math.log10(high)); p += 1) {
    const v = 10 ** p;
    if (v >= low * (1 - 1e-9) && v <= high * (1 + 1e-9)) ticks.push(v);
  }
  return ticks.length >= 2 ? ticks : niceTicks(low, high, 4).filter((v) => v > 0);
}

/** [low, high] for a log scale: positive values only, padded to whole decades when narrow. */
export function logExtent(values) {
  const positive = values.filter((v) => Number.isFinite(v) && v > 0);
  if (!positive.length) return [1, 10];
  let [low, high] = extent(positive);
  if (low <= 0) low = Math.min(...positive);
  if (high / low < 10) {
    low = 10 ** Math.floor(Math.log10(low));
    high = 10 ** Math.ceil(Math.log10(high));
    if (low === high) high = low * 10;
  }
  return [low, high];
}

export function tickLabel(value, mode) {
  if (mode === "wall") {
    const d = new Date(value);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }
  if (mode === "relative") return `${Number(value.toPrecision(4))}s`;
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(1);
  return String(Number(value.toPrecision(6)));
}
