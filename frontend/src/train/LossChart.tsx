import { useEffect, useRef } from "react";
import type uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { fmt } from "./draw";
import { join } from "./series";
import { type TrainState, useTrain } from "./store";

const COMPARE_COLORS = ["#8356b8", "#0f8b8d"];
const MIN_INTERVAL = 100; // ms between redraws while points stream in

type Num = number | null;

function chartData(s: TrainState): uPlot.AlignedData {
  const cur = s.series.columns(s.xMode);
  if (!s.compared.length) return cur as unknown as uPlot.AlignedData;
  const tables: [number[], Num[][]][] = [[cur[0], cur.slice(1) as Num[][]]];
  for (const c of s.compared) {
    const cols = c.series.columns(s.xMode);
    tables.push([cols[0], [cols[2], cols[4]]]);
  }
  const [x, ys] = join(tables);
  return [x, ...ys] as unknown as uPlot.AlignedData;
}

/**
 * Loss curves (uPlot): the batch loss of every step, the mean of the epoch's batch losses (taken
 * while the parameters moved), the true L(S, w) on the whole training set at evaluation epochs'
 * ends, the test loss and
 * accuracy (right axis), and the train and test loss of up to two compared runs (dashed).
 * Redrawn from the series in place, at most ten times a second, without React rendering.
 */
export function LossChart() {
  const box = useRef<HTMLDivElement>(null);
  const logScale = useTrain((s) => s.logScale);
  const xMode = useTrain((s) => s.xMode);
  const compared = useTrain((s) => s.compared.map((c) => `${c.id}\u0000${c.label}`).join("\n"));
  // the accuracy axis only for classification (rebuilt when the first accuracy arrives)
  const accuracy = useTrain((s) => s.metricsVersion >= 0 && s.series.lastAccuracy !== null);

  useEffect(() => {
    const el = box.current;
    // uPlot needs a real browser (canvas, matchMedia); it is loaded on first use.
    if (!el || typeof window.matchMedia !== "function") return;
    el.dataset.compared = compared; // rebuilt when the compared runs change
    let dispose: (() => void) | null = null;
    let cancelled = false;
    void import("uplot").then(({ default: UPlot }) => {
      if (!cancelled) dispose = mount(UPlot, el, logScale, xMode, accuracy);
    });
    return () => {
      cancelled = true;
      dispose?.();
    };
  }, [logScale, xMode, compared, accuracy]);

  return (
    <>
      <PenaltyNote />
      <div className="loss-chart" ref={box} data-testid="loss-chart" />
    </>
  );
}

/** The plotted losses are the costs' only: say so when L1/L2 penalties also shape the update. */
function PenaltyNote() {
  const penalties = useTrain((s) =>
    penaltiesOf((s.run?.config as { l1?: number; l2?: number } | undefined) ?? s.settings),
  );
  if (!penalties) return null;
  return (
    <p className="loss-note muted" data-testid="loss-penalty-note">
      {penalties} regularisation is not part of the plotted loss: it only enters the gradient.
    </p>
  );
}

/** "L1", "L2", "L1 and L2" or null, from a training config. */
export function penaltiesOf(cfg: { l1?: number | null; l2?: number | null } | null | undefined) {
  const on = [cfg?.l1 ? "L1" : null, cfg?.l2 ? "L2" : null].filter(Boolean);
  return on.length ? on.join(" and ") : null;
}

const AXIS_LABEL = { labelSize: 16, labelFont: "11px system-ui, sans-serif" };

/** The index of each series' last value (null when it has none): the legend's "now". */
export function latestIdxs(data: uPlot.AlignedData): (number | null)[] {
  return data.map((col) => {
    for (let i = col.length - 1; i >= 0; i--) if (col[i] != null) return i;
    return null;
  });
}

/** setLegend hook: with the cursor off the plot, the legend shows the latest values. */
function showLatest(u: uPlot) {
  if (u.cursor.idx != null || !u.data?.length) return;
  const idxs = latestIdxs(u.data);
  if (idxs[0] == null) return;
  u.setLegend({ idxs }, false); // not firing the hook again
}

function mount(
  UPlot: typeof uPlot,
  el: HTMLDivElement,
  logScale: boolean,
  xMode: string,
  accuracy: boolean,
) {
  const state = useTrain.getState();
  const series: uPlot.Series[] = [
    { label: xMode },
    { label: "batch loss", stroke: "rgba(47,111,219,0.35)", width: 1, spanGaps: true },
    { label: "mean of the epoch's batch losses", stroke: "#2f6fdb", width: 2, spanGaps: true },
    {
      label: "L(S, w) on the training set",
      stroke: "#0b3d91",
      width: 2,
      dash: [1, 0],
      points: { show: true, size: 5 },
      spanGaps: true,
    },
    { label: "test loss", stroke: "#e0702b", width: 2, spanGaps: true },
    {
      label: "test accuracy",
      stroke: "#1f8a4c",
      width: 1.5,
      dash: [4, 3],
      scale: "acc",
      spanGaps: true,
      show: accuracy,
    },
  ];
  state.compared.forEach((c, i) => {
    const stroke = COMPARE_COLORS[i % COMPARE_COLORS.length];
    series.push(
      { label: `${c.label} · train`, stroke, width: 1.5, dash: [6, 4], spanGaps: true },
      { label: `${c.label} · test`, stroke, width: 1.5, dash: [2, 3], spanGaps: true },
    );
  });
  // One number format everywhere (uPlot's default prints 55,728,954… and rounds 3.7e-4 to 0).
  series[0].value = (_u, v) => (v == null ? "—" : String(Math.round(v)));
  for (const s of series.slice(1)) s.value = (_u, v) => fmt(v);
  let legend = 34; // the legend's height, below the plot (measured once drawn)
  const size = () => ({
    width: Math.max(200, el.clientWidth),
    height: Math.max(80, el.clientHeight - legend),
  });
  const u = new UPlot(
    {
      ...size(),
      scales: {
        x: { time: false },
        y: logScale ? { distr: 3, log: 10 } : {},
        acc: { range: [0, 1] },
      },
      series,
      axes: [
        { size: 26, values: (_u, splits) => splits.map((v) => String(Math.round(v))) },
        {
          scale: "y",
          size: 46,
          label: "loss",
          values: (_u, splits) => splits.map(fmt),
          ...AXIS_LABEL,
        },
        {
          scale: "acc",
          side: 1,
          grid: { show: false },
          size: 34,
          show: accuracy,
          label: "test accuracy",
          values: (_u, splits) => splits.map(fmt),
          ...AXIS_LABEL,
        },
      ],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      // Off the plot the legend would read "--": it shows each curve's latest value instead.
      hooks: { setLegend: [showLatest] },
    },
    chartData(state),
    el,
  );
  // The legend wraps with the width: size the width first, then give the plot the rest.
  const layout = () => {
    u.setSize({ width: size().width, height: u.height });
    legend = (u.root.querySelector(".u-legend") as HTMLElement | null)?.offsetHeight ?? legend;
    u.setSize(size());
  };
  layout();
  // Redrawn within a store update (the stream applies its batches at animation frames), so a
  // redraw shares the frame the batch draws anyway; a timer only catches the last points
  // once the stream goes quiet.
  let last = 0;
  let pending = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const redraw = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    pending = false;
    last = performance.now();
    u.setData(chartData(useTrain.getState()));
  };
  const unsub = useTrain.subscribe((s, p) => {
    if (s.metricsVersion !== p.metricsVersion) pending = true;
    if (!pending) return;
    if (performance.now() - last >= MIN_INTERVAL) redraw();
    else if (!timer) timer = setTimeout(redraw, 3 * MIN_INTERVAL);
  });
  const ro = new ResizeObserver(layout);
  ro.observe(el);
  return () => {
    unsub();
    ro.disconnect();
    if (timer) clearTimeout(timer);
    u.destroy();
  };
}
