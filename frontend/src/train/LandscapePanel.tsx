import { useEffect, useRef, useState } from "react";
import { request } from "../api/client";
import { useEditor } from "../store/editor";
import {
  type Axis,
  axisLabel,
  contour,
  entriesOf,
  entryValue,
  type LandscapeResult,
  levels,
  PATHS,
  toGrid,
} from "./landscape";
import { wantFull } from "./live";
import { configOf } from "./settings";
import { useTrain } from "./store";

const SIZE = 260;

/**
 * The loss landscape the notes draw for gradient descent: L(S, w) over two parameter entries
 * (every other parameter fixed at its start), as contours, with the paths of full-batch GD,
 * SGD and mini-batch SGD from the same start, side by side on one plot.
 */
export function LandscapePanel() {
  const [entries, setEntries] = useState<Axis[]>([]);
  const [axes, setAxes] = useState<[number, number]>([0, 1]);
  const [spread, setSpread] = useState(2);
  const [resolution, setResolution] = useState(41);
  const [steps, setSteps] = useState(30);
  const [state, setState] = useState<{ data?: LandscapeResult; error?: string; busy?: boolean }>(
    {},
  );
  const revision = useEditor((s) => s.revision);
  const trail = useLiveTrail(state.data ?? null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: re-read the parameters on each edit
  useEffect(() => {
    // the graph's parameters at their initial values: the candidate axes
    const graph = useEditor.getState().toDoc();
    if (!graph.nodes.length) return;
    let alive = true;
    request<{ state: Record<string, Record<string, unknown>> }>("/explain", {
      method: "POST",
      body: JSON.stringify({ graph }),
    })
      .then((r) => alive && setEntries(entriesOf(r.state)))
      .catch(() => alive && setEntries([]));
    return () => {
      alive = false;
    };
  }, [revision]);
  if (entries.length < 2) {
    return (
      <p className="muted" data-testid="landscape-empty">
        The landscape needs a graph with at least two trainable numbers (e.g. linear regression's w
        and b).
      </p>
    );
  }
  const [ia, ib] = axes.map((i) => Math.min(i, entries.length - 1));
  const go = async () => {
    const { dataset, settings } = useTrain.getState();
    const pick = (e: Axis) => ({
      param: e.param,
      index: e.index,
      range: [e.value - spread, e.value + spread],
    });
    setState({ busy: true });
    try {
      const data = await request<LandscapeResult>("/landscape", {
        method: "POST",
        body: JSON.stringify({
          graph: useEditor.getState().toDoc(),
          dataset,
          axes: [pick(entries[ia]), pick(entries[ib])],
          resolution: [resolution, resolution],
          train: configOf(settings),
          steps,
        }),
      });
      setState({ data });
    } catch (err) {
      setState({ error: err instanceof Error ? err.message : String(err) });
    }
  };
  const select = (which: 0 | 1, value: number) =>
    setAxes((cur) => (which === 0 ? [value, cur[1]] : [cur[0], value]));
  return (
    <div className="landscape" data-testid="landscape-panel">
      <div className="landscape-form">
        {([0, 1] as const).map((which) => (
          <label key={which}>
            {which === 0 ? "across" : "up"}{" "}
            <select
              data-testid={`landscape-axis-${which}`}
              value={which === 0 ? ia : ib}
              onChange={(e) => select(which, Number(e.target.value))}
            >
              {entries.map((e, i) => (
                <option key={axisLabel(e)} value={i}>
                  {axisLabel(e)}
                </option>
              ))}
            </select>
          </label>
        ))}
        <label title="each axis spans its start value ± this">
          ±{" "}
          <input
            type="number"
            step="0.5"
            min="0.1"
            value={spread}
            onChange={(e) => setSpread(Math.max(0.1, Number(e.target.value) || 1))}
          />
        </label>
        <label title="points per axis (at most 101)">
          grid{" "}
          <input
            type="number"
            min="5"
            max="101"
            value={resolution}
            onChange={(e) =>
              setResolution(Math.max(5, Math.min(101, Number(e.target.value) || 41)))
            }
          />
        </label>
        <label title="steps each method takes from the same start">
          steps{" "}
          <input
            type="number"
            min="0"
            max="2000"
            value={steps}
            onChange={(e) => setSteps(Math.max(0, Math.min(2000, Number(e.target.value) || 0)))}
          />
        </label>
        <button
          type="button"
          className="btn small"
          data-testid="landscape-run"
          disabled={state.busy || ia === ib}
          onClick={() => void go()}
        >
          {state.busy ? "Computing…" : "Draw"}
        </button>
      </div>
      {state.error && (
        <p className="error-text" data-testid="landscape-error">
          {state.error}
        </p>
      )}
      {state.data && <Contours data={state.data} trail={trail} />}
    </div>
  );
}

/** The dock's run, live: the two entries at each snapshot since the landscape was drawn. */
function useLiveTrail(data: LandscapeResult | null): [number, number][] {
  const params = useTrain((s) => s.params);
  const runId = useTrain((s) => s.run?.id ?? null);
  const [trail, setTrail] = useState<[number, number][]>([]);
  // a new landscape or another run: start a new trail
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset on these changes only
  useEffect(() => setTrail([]), [data, runId]);
  // the two parameters' values come in the snapshots only when asked for in full
  useEffect(() => {
    if (!data) return;
    const nodes = new Set(
      data.axes.map((a) => String(a.param).slice(0, String(a.param).lastIndexOf("."))),
    );
    const undo = [...nodes].map((id) => wantFull(id));
    return () => {
      for (const u of undo) u();
    };
  }, [data]);
  useEffect(() => {
    if (!data || !runId) return;
    const a = entryValue(params, data.axes[0] as { param: string; index: number[] });
    const b = entryValue(params, data.axes[1] as { param: string; index: number[] });
    if (a === null || b === null) return;
    setTrail((t) => {
      const last = t[t.length - 1];
      return last && last[0] === a && last[1] === b ? t : [...t.slice(-4999), [a, b]];
    });
  }, [params, data, runId]);
  return trail;
}

type PathKey = (typeof PATHS)[number]["key"];

function Contours({ data, trail }: { data: LandscapeResult; trail: [number, number][] }) {
  const [side, setSide] = useState(false);
  const [ax, bx] = data.axes;
  return (
    <figure
      className="landscape-figure"
      data-testid="landscape-figure"
      data-rows={data.loss.length}
      data-cols={data.loss[0]?.length ?? 0}
      data-layout={side ? "side" : "overlay"}
    >
      <label className="landscape-layout">
        <input
          type="checkbox"
          checked={side}
          data-testid="landscape-side"
          onChange={(e) => setSide(e.target.checked)}
        />{" "}
        side by side
      </label>
      {side ? (
        <div className="landscape-side">
          {PATHS.map((p) => (
            <div key={p.key}>
              <Plot data={data} trail={[]} only={p.key} size={150} />
              <div className="muted">{p.label}</div>
            </div>
          ))}
        </div>
      ) : (
        <Plot data={data} trail={trail} only={null} size={SIZE} />
      )}
      <figcaption>
        <div className="muted">
          L(S, w) over {axisLabel(ax as Axis)} (across) and {axisLabel(bx as Axis)} (up); every
          other parameter stays at its start.
        </div>
        <ul className="landscape-legend">
          {PATHS.map((p) => (
            <li key={p.key} data-testid={`landscape-path-${p.key}`}>
              <span className="swatch" style={{ background: p.colour }} /> {p.label}
              {p.key === "minibatch" ? ` (batch ${data.batch_sizes.minibatch})` : ""}:{" "}
              {data.paths[p.key]?.length ? data.paths[p.key].length - 1 : 0} steps
            </li>
          ))}
          {trail.length > 0 && (
            <li data-testid="landscape-live" data-points={trail.length}>
              <span className="swatch is-live" /> the dock's run, live ({trail.length} snapshots)
            </li>
          )}
        </ul>
      </figcaption>
    </figure>
  );
}

/** One contour plot: every path (`only` null) or one of them, at `size` pixels. */
function Plot(props: {
  data: LandscapeResult;
  trail: [number, number][];
  only: PathKey | null;
  size: number;
}) {
  const { data, trail, only, size } = props;
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const ctx = canvas.current?.getContext("2d");
    if (ctx) draw(ctx, data, trail, only, size);
  }, [data, trail, only, size]);
  return (
    <canvas
      ref={canvas}
      width={size}
      height={size}
      data-testid={only ? `landscape-plot-${only}` : "landscape-plot"}
    />
  );
}

/** Banded fill, contour lines, then the three paths from the start (a ring). */
function draw(
  ctx: CanvasRenderingContext2D,
  data: LandscapeResult,
  trail: [number, number][],
  only: PathKey | null,
  SIZE: number,
) {
  const rows = data.loss.length;
  const cols = data.loss[0]?.length ?? 0;
  const sx = SIZE / Math.max(1, cols - 1);
  const sy = SIZE / Math.max(1, rows - 1);
  // up is the second axis's high end: row r is drawn at y = SIZE - r·sy
  const px = (c: number, r: number): [number, number] => [c * sx, SIZE - r * sy];
  const ls = levels(data.loss, 12);
  ctx.clearRect(0, 0, SIZE, SIZE);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = data.loss[r][c];
      const band = v === null ? -1 : ls.filter((l) => v > l).length;
      const t = band < 0 ? 1 : band / Math.max(1, ls.length);
      ctx.fillStyle = band < 0 ? "#eee" : `hsl(${220 - 190 * t}, 70%, ${88 - 30 * t}%)`;
      const [x, y] = px(c - 0.5, r + 0.5);
      ctx.fillRect(x, y, sx + 1, sy + 1);
    }
  }
  ctx.strokeStyle = "rgba(40, 40, 60, 0.55)";
  ctx.lineWidth = 1;
  for (const l of ls) {
    ctx.beginPath();
    for (const [c0, r0, c1, r1] of contour(data.loss, l)) {
      ctx.moveTo(...px(c0, r0));
      ctx.lineTo(...px(c1, r1));
    }
    ctx.stroke();
  }
  for (const p of PATHS) {
    if (only && p.key !== only) continue;
    const path = data.paths[p.key] ?? [];
    ctx.strokeStyle = p.colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    path.forEach(([a, b], i) => {
      const [x, y] = px(...toGrid(data, a, b));
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
  if (trail.length > 0) {
    ctx.strokeStyle = "#111";
    ctx.setLineDash([3, 3]);
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    trail.forEach(([a, b], i) => {
      const [tx, ty] = px(...toGrid(data, a, b));
      if (i === 0) ctx.moveTo(tx, ty);
      else ctx.lineTo(tx, ty);
    });
    ctx.stroke();
    ctx.setLineDash([]);
  }
  const [x, y] = px(...toGrid(data, data.start[0], data.start[1]));
  ctx.strokeStyle = "#000";
  ctx.beginPath();
  ctx.arc(x, y, 4, 0, 2 * Math.PI);
  ctx.stroke();
}
