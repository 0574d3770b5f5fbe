// Under a hidden layer, for 2-D datasets: one thumbnail per unit showing its activation over
// the input plane (as TensorFlow Playground draws its neurons), live with the boundary frames.
import { memo, useLayoutEffect, useRef } from "react";
import { fmt } from "./draw";
import { useTrain } from "./store";

const CELL = 2; // px per lattice cell: a 10 × 10 lattice is a 20 px thumbnail

type Grid = number[][];

/** Blue below 0, orange above, white at 0; `scale` is the largest |value| of the layer. */
function colour(v: number, scale: number): [number, number, number] {
  const t = scale > 0 ? Math.max(-1, Math.min(1, v / scale)) : 0;
  const base: [number, number, number] = t < 0 ? [47, 111, 219] : [224, 112, 43];
  const a = Math.abs(t);
  return [
    Math.round(255 + (base[0] - 255) * a),
    Math.round(255 + (base[1] - 255) * a),
    Math.round(255 + (base[2] - 255) * a),
  ];
}

function Thumb({ grid, scale, title }: { grid: Grid; scale: number; title: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useLayoutEffect(() => {
    const c = ref.current;
    const ctx = c?.getContext("2d");
    if (!c || !ctx) return;
    const rows = grid.length;
    const cols = grid[0]?.length ?? 0;
    const img = ctx.createImageData(cols, rows);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        // row 0 is the lowest x1: drawn at the bottom, as on the boundary plot
        const [r, g, b] = colour(grid[i][j], scale);
        const k = ((rows - 1 - i) * cols + j) * 4;
        img.data[k] = r;
        img.data[k + 1] = g;
        img.data[k + 2] = b;
        img.data[k + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
  }, [grid, scale]);
  const n = grid.length;
  return (
    <canvas
      ref={ref}
      className="unit-thumb"
      width={grid[0]?.length ?? n}
      height={n}
      style={{ width: n * CELL, height: n * CELL }}
      title={title}
      role="img"
      aria-label={title}
    />
  );
}

function UnitThumbsImpl({ id }: { id: string }) {
  const units = useTrain(
    (s) => (s.boundary as { units?: Record<string, Grid[]> } | null)?.units?.[id],
  );
  const step = useTrain((s) => s.boundary?.step);
  if (!units?.length) return null;
  let scale = 0;
  for (const g of units)
    for (const row of g) for (const v of row) scale = Math.max(scale, Math.abs(v));
  return (
    <div className="unit-thumbs nodrag" data-testid={`unit-thumbs-${id}`} data-units={units.length}>
      {units.map((g, u) => {
        const flat = g.flat();
        const title =
          `${id}[${u}] over the input plane (x0 →, x1 ↑), step ${step ?? "—"}: ` +
          `${fmt(Math.min(...flat))} … ${fmt(Math.max(...flat))} (blue < 0 < orange)`;
        // biome-ignore lint/suspicious/noArrayIndexKey: a unit's index is its identity
        return <Thumb key={u} grid={g} scale={scale} title={title} />;
      })}
    </div>
  );
}

export const UnitThumbs = memo(UnitThumbsImpl);
