// The loss curves of a run, kept for charts: every step's batch loss (thinned once there are
// many) and every epoch's train loss, test loss and accuracy. Appending is O(1) amortised and
// memory stays bounded however long the run: past MAX points a series keeps every other one
// and from then on samples twice as sparsely.
import type { MetricPoint } from "./types";

const MAX = 6000;

type Num = number | null;

class Thinned<T extends Record<string, Num[]>> {
  stride = 1;
  private seen = 0;
  constructor(readonly cols: T) {}

  get length() {
    return (Object.values(this.cols)[0] as Num[]).length;
  }

  push(row: { [K in keyof T]: Num }) {
    if (this.seen++ % this.stride !== 0) return;
    for (const k in this.cols) this.cols[k].push(row[k]);
    if (this.length > MAX) {
      for (const k in this.cols)
        this.cols[k] = this.cols[k].filter((_, i) => i % 2 === 0) as T[typeof k];
      this.stride *= 2;
    }
  }
}

export type XMode = "step" | "epoch";

/** Chart columns: x, then batch loss, the epoch's mean of batch losses, L(S, w) on the whole
 * training set at the epoch's end, test loss, accuracy (null where absent). */
export type Columns = [number[], Num[], Num[], Num[], Num[], Num[]];

const fin = (v: number | null | undefined): Num =>
  typeof v === "number" && Number.isFinite(v) ? v : null;

export class Series {
  private steps = new Thinned({ x: [] as Num[], loss: [] as Num[] });
  private epochs = new Thinned({
    x: [] as Num[],
    epoch: [] as Num[],
    train: [] as Num[],
    full: [] as Num[],
    test: [] as Num[],
    acc: [] as Num[],
  });
  /** the latest point, and the latest that carried each epoch metric */
  last: MetricPoint | null = null;
  lastTest: number | null = null;
  lastAccuracy: number | null = null;
  lastTrain: number | null = null;
  count = 0;
  private clock: { t: number; step: number }[] = [];

  push(points: MetricPoint[]) {
    for (const p of points) {
      this.count++;
      this.last = p;
      this.steps.push({ x: p.step, loss: fin(p.loss) });
      const epochEnd =
        p.train_loss !== undefined ||
        p.full_loss != null ||
        p.test_loss != null ||
        p.accuracy != null;
      if (epochEnd) {
        this.epochs.push({
          x: p.step,
          epoch: p.epoch,
          train: fin(p.train_loss ?? p.loss),
          full: fin(p.full_loss),
          test: fin(p.test_loss),
          acc: fin(p.accuracy),
        });
        if (p.train_loss != null) this.lastTrain = p.train_loss;
        if (p.test_loss != null) this.lastTest = p.test_loss;
        if (p.accuracy != null) this.lastAccuracy = p.accuracy;
      }
    }
    const p = this.last;
    if (p && typeof p.t === "number") {
      this.clock.push({ t: p.t, step: p.step });
      const keep = p.t - 2;
      while (this.clock.length > 2 && this.clock[0].t < keep) this.clock.shift();
    }
  }

  /** Steps per second over the last two seconds of the worker's clock (null: unknown). */
  speed(now = Date.now() / 1000): number | null {
    const c = this.clock;
    if (c.length < 2) return null;
    const a = c[0];
    const b = c[c.length - 1];
    if (now - b.t > 1.5) return 0; // nothing for a while: paused or finished
    return b.t > a.t ? (b.step - a.step) / (b.t - a.t) : null;
  }

  columns(mode: XMode): Columns {
    const e = this.epochs.cols;
    if (mode === "epoch") {
      return [e.epoch as number[], e.epoch.map(() => null), e.train, e.full, e.test, e.acc];
    }
    const s = this.steps.cols;
    const [x, [loss, train, full, test, acc]] = join([
      [s.x as number[], [s.loss]],
      [e.x as number[], [e.train, e.full, e.test, e.acc]],
    ]);
    return [x, loss, train, full, test, acc];
  }
}

/** Aligns tables sharing an ascending x axis: the union of their xs, each column with null
 * where its table has no row at that x. */
export function join(tables: [number[], Num[][]][]): [number[], Num[][]] {
  const x: number[] = [];
  const out: Num[][] = tables.flatMap(([, cols]) => cols.map(() => [] as Num[]));
  const idx = tables.map(() => 0);
  for (;;) {
    let next = Number.POSITIVE_INFINITY;
    tables.forEach(([xs], t) => {
      if (idx[t] < xs.length && xs[idx[t]] < next) next = xs[idx[t]];
    });
    if (next === Number.POSITIVE_INFINITY) break;
    x.push(next);
    let c = 0;
    tables.forEach(([xs, cols], t) => {
      const hit = idx[t] < xs.length && xs[idx[t]] === next;
      for (const col of cols) out[c++].push(hit ? col[idx[t]] : null);
      if (hit) idx[t]++;
    });
  }
  return [x, out];
}
