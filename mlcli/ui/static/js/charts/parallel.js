// Parallel coordinates of a sweep: one axis per param (numbers on a linear axis,
// text as evenly spaced categories) and the chosen metric last; one line per run,
// coloured by the metric's value.

import { h, s } from "../dom.js";
import { extent, tickLabel } from "./scale.js";

const MARGIN = { left: 40, right: 80, top: 36, bottom: 24 };

function numeric(values) {
  return values.every((v) => v === null || v === undefined || (typeof v === "number") || (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))));
}

function axisFor(key, values, top, bottom) {
  const present = values.filter((v) => v !== null && v !== undefined && v !== "NaN");
  if (present.length && numeric(present)) {
    const [low, high] = extent(present.map(Number));
    const map = (v) => (v === null || v === undefined || !Number.isFinite(Number(v)) ? null
      : bottom - ((Number(v) - low) / (high - low || 1)) * (bottom - top));
    return { key, map, labels: [[low, tickLabel(low)], [high, tickLabel(high)]].map(([v, t]) => [map(v), t]) };
  }
  const categories = [...new Set(present.map(String))].sort();
  const position = (i) => (categories.length === 1 ? (top + bottom) / 2
    : bottom - (i / (categories.length - 1)) * (bottom - top));
  const map = (v) => (v === null || v === undefined ? null : position(categories.indexOf(String(v))));
  return { key, map, labels: categories.slice(0, 12).map((c, i) => [position(i), c]) };
}

function gradient(t) { // blue (low) to red (high)
  const r = Math.round(40 + 200 * t);
  const b = Math.round(220 - 180 * t);
  return `rgb(${r},90,${b})`;
}

/** rows: [{label, values: {key: value}}]; keys: the axes, the metric last. */
export function parallelCoordinates({ rows, keys, metric, width = 900, height = 320 }) {
  const top = MARGIN.top;
  const bottom = height - MARGIN.bottom;
  const axes = keys.map((key) => axisFor(key, rows.map((r) => r.values[key]), top, bottom));
  const step = (width - MARGIN.left - MARGIN.right) / Math.max(1, axes.length - 1);
  const x = (i) => MARGIN.left + i * step;
  const metricValues = rows.map((r) => Number(r.values[metric])).filter(Number.isFinite);
  const [low, high] = extent(metricValues);
  const svg = s("svg", {
    class: "chart parallel-chart", width, height, viewBox: `0 0 ${width} ${height}`,
    role: "img", "aria-label": `parallel coordinates of ${keys.length} axes`,
  });
  for (const row of rows) {
    const points = axes.map((axis, i) => [x(i), axis.map(row.values[axis.key])]);
    if (points.some(([, y]) => y === null)) continue;
    const value = Number(row.values[metric]);
    const t = Number.isFinite(value) ? (value - low) / (high - low || 1) : 0;
    const d = points.map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join("");
    svg.append(s("path", { d, stroke: gradient(t), class: "pc-line" }, s("title", { text: `${row.label}: ${metric} = ${row.values[metric]}` })));
  }
  axes.forEach((axis, i) => {
    const ax = x(i);
    svg.append(
      s("line", { x1: ax, x2: ax, y1: top, y2: bottom, class: "pc-axis" }),
      s("text", { x: ax, y: top - 14, "text-anchor": "middle", class: "axis-label", text: axis.key }),
    );
    for (const [y, label] of axis.labels) {
      if (y !== null) svg.append(s("text", { x: ax + 4, y: y + 4, class: "tick", text: label }));
    }
  });
  return h("figure", { class: "chart-figure" }, svg);
}
