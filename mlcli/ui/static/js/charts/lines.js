// A line chart of metric histories: one line per series, x by step, wall time or
// time since the run's first point, y linear or logarithmic. Plain SVG, no library.

import { h, s } from "../dom.js";
import { color, extent, logExtent, scale, tickLabel } from "./scale.js";

const MARGIN = { left: 64, right: 16, top: 28, bottom: 40 };

/** A numeric value from the API (non-finite values arrive as strings: left out). */
const finite = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);

/**
 * series: [{label, steps, timestamps, values}]; xMode: "step" | "relative" | "wall".
 * Returns a <figure> holding the SVG and a legend.
 */
export function lineChart({ title, series, xMode = "step", log = false, width = 520, height = 260 }) {
  const lines = series.map((item, index) => {
    const t0 = item.timestamps.length ? Math.min(...item.timestamps) : 0;
    const points = [];
    item.values.forEach((raw, i) => {
      const y = finite(raw);
      if (y === null || (log && y <= 0)) return;
      const x = xMode === "step" ? item.steps[i]
        : xMode === "relative" ? (item.timestamps[i] - t0) / 1000 : item.timestamps[i];
      points.push([x, y]);
    });
    return { label: item.label, color: color(index), points };
  });
  const all = lines.flatMap((l) => l.points);
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const [x0, x1] = extent(all.map((p) => p[0]));
  const [y0, y1] = log ? logExtent(all.map((p) => p[1])) : extent(all.map((p) => p[1]));
  const sx = scale(x0, x1, MARGIN.left, MARGIN.left + plotW);
  const sy = scale(y0, y1, MARGIN.top + plotH, MARGIN.top, log);
  const svg = s("svg", {
    class: "chart line-chart", width, height, viewBox: `0 0 ${width} ${height}`,
    role: "img", "aria-label": `${title}: ${lines.length} series`,
  });
  svg.append(s("text", { x: width / 2, y: 16, "text-anchor": "middle", class: "chart-title", text: title }));
  for (const tick of sy.ticks(5)) {
    const y = sy(tick);
    svg.append(
      s("line", { x1: MARGIN.left, x2: MARGIN.left + plotW, y1: y, y2: y, class: "grid" }),
      s("text", { x: MARGIN.left - 6, y: y + 4, "text-anchor": "end", class: "tick", text: tickLabel(tick) }),
    );
  }
  for (const tick of sx.ticks(xMode === "wall" ? 4 : 6)) {
    const x = sx(tick);
    svg.append(
      s("line", { x1: x, x2: x, y1: MARGIN.top + plotH, y2: MARGIN.top + plotH + 4, class: "axis" }),
      s("text", { x, y: MARGIN.top + plotH + 16, "text-anchor": "middle", class: "tick", text: tickLabel(tick, xMode) }),
    );
  }
  svg.append(
    s("rect", { x: MARGIN.left, y: MARGIN.top, width: plotW, height: plotH, class: "frame" }),
    s("text", {
      x: MARGIN.left + plotW / 2, y: height - 6, "text-anchor": "middle", class: "axis-label",
      text: { step: "step", relative: "time since first point", wall: "time" }[xMode] + (log ? " · log scale" : ""),
    }),
  );
  for (const line of lines) {
    if (!line.points.length) continue;
    const d = line.points.map(([x, y], i) => `${i ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join("");
    const group = s("g", { class: "series" }, s("title", { text: line.label }));
    group.append(s("path", { d, stroke: line.color, class: "series-line" }));
    if (line.points.length === 1) {
      const [x, y] = line.points[0];
      group.append(s("circle", { cx: sx(x), cy: sy(y), r: 3, fill: line.color }));
    }
    svg.append(group);
  }
  if (!all.length) {
    svg.append(s("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "muted", text: log ? "no positive values to draw on a log scale" : "no finite values to draw" }));
  }
  const legend = lines.length > 1 ? h("ul", { class: "legend" }, lines.map((line) => {
    const swatch = h("span", { class: "swatch" });
    swatch.style.background = line.color;
    return h("li", null, swatch, line.label);
  })) : null;
  return h("figure", { class: "chart-figure" }, svg, legend);
}
