// The client of WS /api/runs/{id}/stream. It knows no React: frames are queued as they come
// and handed over once per animation frame as one batch (metrics in order, the latest
// snapshot and boundary only), so a fast run never floods the page. It reconnects with
// backoff after a network blip or a server restart and resyncs from the last metrics seq it
// holds; a gap in seq asks the server to resend from there.
//
// In a browser the socket itself lives in the live worker (live.ts): frames arrive parsed,
// snapshots light, and the node views are drawn there. Elsewhere (jsdom, no OffscreenCanvas)
// it is a plain WebSocket and frames are parsed here.
import { workerSocket } from "./live";
import type {
  BoundaryFrame,
  ErrorFrame,
  HelloFrame,
  MetricPoint,
  ServerFrame,
  SnapshotFrame,
  StatusFrame,
} from "./types";

export interface Batch {
  hello: HelloFrame | null;
  points: MetricPoint[];
  /** seq of the last metrics batch included */
  seq: number;
  snapshot: SnapshotFrame | null;
  boundary: BoundaryFrame | null;
  statuses: StatusFrame[];
  errors: ErrorFrame[];
}

export type Connection = "connecting" | "open" | "reconnecting" | "closed";

export interface StreamOptions {
  runId: string;
  token?: string | null;
  rate: number;
  /** metrics batches after this seq are wanted (0: the whole curve) */
  since: number;
  onBatch: (b: Batch) => void;
  onConnection: (c: Connection, detail?: string) => void;
  /** asked before reconnecting: false when the run is gone (no point retrying) */
  exists?: () => Promise<boolean>;
}

/** Calls `cb` once, at an animation frame; `lazy`: not before LAZY_MS either. Returns the
 * cancel. */
type Sched = (cb: () => void, lazy?: boolean) => () => void;

/** How long metrics alone may wait for the next frame that has to be drawn anyway (a
 * snapshot's): the curve and the step counter still move ten times a second, and a run
 * streaming snapshots costs the page one frame per snapshot, not one more per metrics batch. */
export const LAZY_MS = 100;

/** requestAnimationFrame, with a timer in case the tab is hidden (rAF then never fires). */
const defaultSchedule: Sched = (cb, lazy = false) => {
  let done = false;
  let raf = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = () => {
    if (done) return;
    done = true;
    cb();
  };
  const arm = () => {
    raf = typeof requestAnimationFrame === "function" ? requestAnimationFrame(run) : 0;
    timer = setTimeout(run, 250);
  };
  const wait = lazy ? setTimeout(arm, LAZY_MS) : undefined;
  if (!lazy) arm();
  return () => {
    done = true;
    clearTimeout(wait);
    if (raf) cancelAnimationFrame(raf);
    clearTimeout(timer);
  };
};

/** The socket in the live worker when the page has one, else a WebSocket. */
const defaultSocket = (url: string): WebSocket =>
  (workerSocket(url) as unknown as WebSocket | null) ?? new WebSocket(url);

export class RunStream {
  private ws: WebSocket | null = null;
  private queue: ServerFrame[] = [];
  private cancelFlush: (() => void) | null = null;
  /** the flush scheduled is a lazy one (metrics only so far) */
  private lazy = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private attempts = 0;
  private closed = false;
  /** the seq of the last metrics batch delivered */
  seq: number;
  rate: number;

  constructor(
    private opts: StreamOptions,
    private schedule: Sched = defaultSchedule,
    private makeSocket: (url: string) => WebSocket = defaultSocket,
  ) {
    this.seq = opts.since;
    this.rate = opts.rate;
    this.onOnline = this.onOnline.bind(this);
    if (typeof window !== "undefined") window.addEventListener("online", this.onOnline);
    this.connect();
  }

  url(): string {
    const { protocol, host } = window.location;
    const q = new URLSearchParams({ since: String(this.seq), rate: String(this.rate) });
    if (this.opts.token) q.set("edit_token", this.opts.token);
    const scheme = protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${host}/api/runs/${encodeURIComponent(this.opts.runId)}/stream?${q}`;
  }

  private connect() {
    if (this.closed) return;
    this.opts.onConnection(this.attempts ? "reconnecting" : "connecting");
    let ws: WebSocket;
    try {
      ws = this.makeSocket(this.url());
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    ws.onmessage = (e: MessageEvent | { data: unknown; frame?: ServerFrame }) => {
      let frame: ServerFrame;
      if ("frame" in e && e.frame) {
        frame = e.frame; // parsed in the live worker
      } else if (typeof e.data === "string") {
        try {
          frame = JSON.parse(e.data) as ServerFrame;
        } catch {
          return;
        }
      } else return;
      this.queue.push(frame);
      // At most one batch per animation frame; metrics alone wait for a while (LAZY_MS).
      const lazy = frame.type === "metrics";
      if (this.cancelFlush && this.lazy && !lazy) {
        this.cancelFlush();
        this.cancelFlush = null;
      }
      if (!this.cancelFlush) {
        this.lazy = lazy;
        this.cancelFlush = this.schedule(() => this.flush(), lazy);
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.retry();
    };
    ws.onerror = () => {
      // onclose follows and retries
    };
  }

  private retry() {
    if (this.closed) return;
    this.attempts++;
    const delay = Math.min(5000, 300 * 2 ** Math.min(this.attempts - 1, 5));
    this.opts.onConnection("reconnecting", `retrying in ${Math.round(delay / 100) / 10} s`);
    this.retryTimer = setTimeout(async () => {
      this.retryTimer = null;
      if (this.closed) return;
      if (this.opts.exists) {
        const ok = await this.opts.exists().catch(() => true);
        if (!ok) {
          this.opts.onConnection("closed", "the run no longer exists");
          this.close();
          return;
        }
      }
      this.connect();
    }, delay);
  }

  private onOnline() {
    if (this.retryTimer && !this.closed) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.connect();
    }
  }

  /** Hands the queued frames over as one batch. */
  flush() {
    this.cancelFlush = null;
    const frames = this.queue;
    this.queue = [];
    if (!frames.length) return;
    const batch: Batch = {
      hello: null,
      points: [],
      seq: this.seq,
      snapshot: null,
      boundary: null,
      statuses: [],
      errors: [],
    };
    let gap = false;
    for (const f of frames) {
      switch (f.type) {
        case "hello": {
          const h = f as HelloFrame;
          batch.hello = h;
          this.attempts = 0;
          this.opts.onConnection("open");
          break;
        }
        case "metrics": {
          const m = f as { seq: number; points: MetricPoint[] };
          if (m.seq <= this.seq) break; // already have it (a resend)
          if (m.seq !== this.seq + 1) {
            gap = true; // lost batches: ask for them again, drop what follows meanwhile
            break;
          }
          if (gap) break;
          this.seq = m.seq;
          for (const p of m.points) batch.points.push(p);
          break;
        }
        case "snapshot":
          batch.snapshot = f as SnapshotFrame;
          break;
        case "boundary":
          batch.boundary = f as BoundaryFrame;
          break;
        case "status":
          batch.statuses.push(f as StatusFrame);
          break;
        case "error":
          batch.errors.push(f as ErrorFrame);
          break;
        default:
          break;
      }
    }
    batch.seq = this.seq;
    if (gap) this.send({ type: "hello", since: this.seq });
    this.opts.onBatch(batch);
  }

  send(msg: Record<string, unknown>): boolean {
    if (this.ws && this.ws.readyState === 1) {
      this.ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  setRate(rate: number) {
    this.rate = rate;
    this.send({ type: "subscribe", rate, nodes: null, boundary: true });
  }

  close() {
    this.closed = true;
    if (typeof window !== "undefined") window.removeEventListener("online", this.onOnline);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.cancelFlush?.();
    this.cancelFlush = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onmessage = null;
      ws.onclose = null;
      ws.onerror = null;
      // Closing a socket that is still connecting makes the browser log an error: let it
      // open first, then close it.
      if (ws.readyState === 0) ws.onopen = () => ws.close(1000);
      else {
        try {
          ws.close(1000);
        } catch {
          // already closed
        }
      }
    }
  }
}
