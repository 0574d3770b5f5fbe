// A convolutional layer's feature maps in a node's live view: one small image per channel, in
// a grid that makes the images as large as the box allows, all on one colour scale (the
// layer's largest magnitude) so channels compare. Plain functions of a 2-D context, like
// draw.ts (the live worker draws with them).
import type { Ctx2D } from "./draw";

type Maps = (number | null)[][][];

/** How C maps of mh × mw cells tile a w × h box: `cols` × `rows` maps of `side` pixels per
 * cell, the grid centred (`x0`, `y0`), `gap` pixels between maps. */
export interface MapGrid {
  cols: number;
  rows: number;
  side: number;
  gap: number;
  x0: number;
  y0: number;
}

/** The grid of C maps (mh × mw) in a w × h box that gives each cell the most pixels; of two
 * grids as good, the one with fewer empty places. 16 maps of 8 × 8 in 120 × 28: 8 × 2. */
export function mapGrid(c: number, mh: number, mw: number, w: number, h: number): MapGrid {
  const gap = 1;
  let best: MapGrid = { cols: 1, rows: Math.max(1, c), side: 0, gap, x0: 0, y0: 0 };
  let bestEmpty = Number.POSITIVE_INFINITY;
  for (let cols = 1; cols <= Math.max(1, c); cols++) {
    const rows = Math.ceil(c / cols);
    const side = Math.min(
      (w - gap * (cols - 1)) / (cols * mw),
      (h - gap * (rows - 1)) / (rows * mh),
    );
    const empty = cols * rows - c;
    if (side > best.side + 1e-9 || (Math.abs(side - best.side) <= 1e-9 && empty < bestEmpty)) {
      best = { cols, rows, side, gap, x0: 0, y0: 0 };
      bestEmpty = empty;
    }
  }
  const gw = best.cols * mw * best.side + gap * (best.cols - 1);
  const gh = best.rows * mh * best.side + gap * (best.rows - 1);
  return { ...best, x0: Math.max(0, (w - gw) / 2), y0: Math.max(0, (h - gh) / 2) };
}

/** The largest finite magnitude over all maps (the layer's one colour scale). */
export function mapsScale(maps: Maps): number {
  let max = 0;
  for (const m of maps)
    for (const row of m)
      for (const v of row) if (v !== null && Math.abs(v) > max) max = Math.abs(v);
  return max;
}

/** Draws the maps into the box at (x, y), w × h, colouring each cell with `color(v / scale)`
 * (null — NaN or ∞ — in black). */
export function drawMaps(
  ctx: Ctx2D,
  maps: Maps,
  x: number,
  y: number,
  w: number,
  h: number,
  color: (t: number) => string,
) {
  const c = maps.length;
  const mh = c ? maps[0].length : 0;
  const mw = mh ? maps[0][0].length : 0;
  if (!c || !mh || !mw) return;
  const g = mapGrid(c, mh, mw, w, h);
  const scale = mapsScale(maps);
  const s = g.side;
  for (let k = 0; k < c; k++) {
    const ox = x + g.x0 + (k % g.cols) * (mw * s + g.gap);
    const oy = y + g.y0 + Math.floor(k / g.cols) * (mh * s + g.gap);
    const m = maps[k];
    for (let i = 0; i < mh; i++) {
      for (let j = 0; j < mw; j++) {
        const v = m[i]?.[j];
        ctx.fillStyle = v === null || v === undefined ? "#000" : color(scale ? v / scale : 0);
        // cells overlap by a fraction of a pixel so no seams show inside a map
        ctx.fillRect(
          ox + j * s,
          oy + i * s,
          Math.min(s + 0.5, mw * s - j * s),
          Math.min(s + 0.5, mh * s - i * s),
        );
      }
    }
  }
}
