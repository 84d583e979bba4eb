/**
 * A time-series chart (uPlot, canvas) with markers: operator actions and alerts drawn as vertical
 * lines, each also a real link (positioned over the plot, reachable by keyboard) to the tasks of
 * that time window. The chart's numbers are also given as text for screen readers.
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Marker {
  at: number; // seconds since the epoch
  label: string;
  kind: "action" | "alert";
  href: string;
}

export interface SeriesSpec {
  label: string;
  color: string;
  unit?: string;
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

export function Chart(props: {
  title: string;
  xs: number[];
  series: SeriesSpec[];
  ys: (number | null)[][];
  markers: Marker[];
  summary: string;
  height?: number;
}) {
  const host = useRef<HTMLDivElement>(null);
  const overlay = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const markersRef = useRef<Marker[]>(props.markers);
  markersRef.current = props.markers;

  const placeMarkers = (u: uPlot) => {
    const layer = overlay.current;
    if (!layer) return;
    const [min, max] = [u.scales.x?.min ?? 0, u.scales.x?.max ?? 0];
    const left = u.bbox.left / devicePixelRatio;
    layer.replaceChildren();
    for (const m of markersRef.current) {
      if (m.at < min || m.at > max) continue;
      const link = document.createElement("a");
      link.href = m.href;
      link.className = `marker ${m.kind}`;
      link.style.left = `${left + u.valToPos(m.at, "x")}px`;
      link.title = m.label;
      link.setAttribute("aria-label", m.label);
      link.textContent = m.kind === "alert" ? "▲" : "◆";
      layer.append(link);
    }
  };

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const text = cssVar("--muted", "#666");
    const grid = cssVar("--grid", "rgba(128,128,128,0.15)");
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
    const opts: uPlot.Options = {
      width: el.clientWidth || 600,
      height: props.height ?? 180,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [axis, { ...axis, size: 48 }],
      series: [
        {},
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          spanGaps: false,
          value: (_u: uPlot, v: number | null) => (v === null ? "—" : `${v.toFixed(2)}${s.unit ?? ""}`),
        })),
      ],
      hooks: {
        draw: [
          (u) => {
            const ctx = u.ctx;
            ctx.save();
            for (const m of markersRef.current) {
              const x = Math.round(u.valToPos(m.at, "x", true));
              if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
              ctx.strokeStyle = m.kind === "alert" ? cssVar("--bad", "#c62828") : cssVar("--accent", "#3559c7");
              ctx.setLineDash([4, 4]);
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
            }
            ctx.restore();
            placeMarkers(u);
          },
        ],
      },
    };
    const u = new uPlot(opts, [props.xs, ...props.ys] as uPlot.AlignedData, el);
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: el.clientWidth, height: props.height ?? 180 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [props.series.length]);

  useEffect(() => {
    plot.current?.setData([props.xs, ...props.ys] as uPlot.AlignedData);
  }, [props.xs, props.ys, props.markers]);

  return (
    <figure class="chart" data-points={props.xs.length}>
      <figcaption>{props.title}</figcaption>
      <div class="chart-wrap">
        <div ref={host} aria-hidden="true" />
        <div ref={overlay} class="marker-layer" />
      </div>
      <p class="sr-only">{props.summary}</p>
    </figure>
  );
}
