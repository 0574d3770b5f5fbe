// The page's side of the live worker (live.worker.ts). A run's stream costs the main thread
// little when its heavy parts live there: the WebSocket and the JSON parsing of every frame,
// and the drawing of the nodes' live views and of the decision boundary, each a canvas handed
// over to the worker (`transferControlToOffscreen`), so a snapshot redraws 50 canvases without
// the page running a line of drawing code. Snapshots reach the page light: their summaries
// keep the statistics (mean, std, min, max, norm — the data attributes, tooltips and edge
// levels need no more) but not the histograms and values, except for the nodes something
// asked for in full (the inspector's heatmaps, `wantFull`); boundary frames come without their
// grid and points (light.ts).
//
// The worker is one per page, started on first use. Where there is no Worker or no
// OffscreenCanvas (jsdom, an old browser) nothing here is used: the stream opens its WebSocket
// on the main thread and the node views draw themselves (NodeLive).
import { pixelRatio } from "./draw";
import type { LiveMode } from "./store";
import type { ServerFrame } from "./types";

/** Page → worker. */
export type ToWorker =
  | { t: "open"; sid: number; url: string }
  | { t: "send"; sid: number; data: string }
  | { t: "close"; sid: number; code?: number }
  | {
      t: "view";
      key: number;
      /** a node's live view (the node id), or the decision boundary (null) */
      id: string | null;
      canvas?: OffscreenCanvas;
      dpr?: number;
    }
  | { t: "unview"; key: number }
  | { t: "visible"; key: number; visible: boolean }
  | { t: "mode"; mode: LiveMode }
  | { t: "full"; ids: string[] };

/** Worker → page. */
export type FromWorker =
  | { t: "open"; sid: number }
  | { t: "frame"; sid: number; frame: ServerFrame }
  | { t: "close"; sid: number; code: number; reason: string }
  | { t: "error"; sid: number };

let worker: Worker | null | undefined; // undefined: not tried yet
let broken = false;
const sockets = new Map<number, WorkerSocket>();
let nextSid = 1;
let mode: LiveMode | null = null;
const wanted = new Map<string, number>();

const post = (m: ToWorker, transfer: Transferable[] = []) => worker?.postMessage(m, transfer);

function supported(): boolean {
  return (
    typeof Worker !== "undefined" &&
    typeof OffscreenCanvas !== "undefined" &&
    typeof HTMLCanvasElement !== "undefined" &&
    "transferControlToOffscreen" in HTMLCanvasElement.prototype
  );
}

/** The page's live worker, started on first use; null where it cannot run. */
export function liveWorker(): Worker | null {
  if (worker === undefined) {
    worker = null;
    if (supported()) {
      try {
        worker = new Worker(new URL("./live.worker.ts", import.meta.url), { type: "module" });
        worker.onmessage = (e: MessageEvent<FromWorker>) => receive(e.data);
        worker.onerror = () => {
          // It failed to load or threw: its sockets close (the stream reconnects, on the main
          // thread this time) and node views mounted from now on draw themselves.
          broken = true;
          for (const s of [...sockets.values()]) s.closed();
        };
        if (mode) post({ t: "mode", mode });
        if (wanted.size) post({ t: "full", ids: [...wanted.keys()] });
      } catch {
        worker = null;
      }
    }
  }
  return broken ? null : worker;
}

function receive(m: FromWorker) {
  const s = sockets.get(m.sid);
  if (!s) return;
  switch (m.t) {
    case "open":
      s.readyState = 1;
      s.onopen?.();
      break;
    case "frame":
      s.onmessage?.({ data: null, frame: m.frame });
      break;
    case "close":
      s.closed();
      break;
    case "error":
      s.onerror?.();
      break;
  }
}

/**
 * What the stream (stream.ts) needs of a WebSocket, opened by the worker: frames arrive
 * parsed, as `frame`.
 */
export class WorkerSocket {
  readyState = 0;
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown; frame?: ServerFrame }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  private readonly sid = nextSid++;

  constructor(readonly url: string) {
    sockets.set(this.sid, this);
    post({ t: "open", sid: this.sid, url });
  }

  send(data: string) {
    if (this.readyState !== 1) throw new Error("the socket is not open");
    post({ t: "send", sid: this.sid, data });
  }

  close(code = 1000) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    sockets.delete(this.sid);
    post({ t: "close", sid: this.sid, code });
  }

  /** The worker's socket closed (or the worker died). */
  closed() {
    if (this.readyState === 3 && !sockets.has(this.sid)) return;
    this.readyState = 3;
    sockets.delete(this.sid);
    this.onclose?.();
  }
}

/** A WebSocket in the live worker, or null when the page has none. */
export function workerSocket(url: string): WorkerSocket | null {
  return liveWorker() ? new WorkerSocket(url) : null;
}

// ------------------------------------------------------------------------- node views

const keys = new WeakMap<HTMLCanvasElement, number>();
const drops = new Map<number, ReturnType<typeof setTimeout>>();
let nextKey = 1;

/**
 * Hands a node's canvas over to the worker, which draws the node's summary into it from every
 * snapshot while `box` is on screen. Returns the undo, or null when the page draws itself (no
 * worker). A canvas is handed over once: mounted again (React's strict mode runs effects
 * twice) it is taken back into use.
 */
export function drawNodeInWorker(id: string, canvas: HTMLCanvasElement, box: Element) {
  return handOver(id, canvas, box);
}

/** Hands the decision boundary's canvas over to the worker (see `drawNodeInWorker`). */
export function drawBoundaryInWorker(canvas: HTMLCanvasElement) {
  return handOver(null, canvas, null);
}

function handOver(id: string | null, canvas: HTMLCanvasElement, box: Element | null) {
  const w = liveWorker();
  if (!w) return null;
  let key = keys.get(canvas);
  if (key === undefined) {
    let off: OffscreenCanvas;
    try {
      off = canvas.transferControlToOffscreen();
    } catch {
      return null;
    }
    key = nextKey++;
    keys.set(canvas, key);
    post({ t: "view", key, id, canvas: off, dpr: pixelRatio() }, [off]);
  } else {
    clearTimeout(drops.get(key));
    drops.delete(key);
    post({ t: "view", key, id });
  }
  const k = key;
  const unwatch = box
    ? watchVisible(box, (visible) => post({ t: "visible", key: k, visible }))
    : null;
  return () => {
    unwatch?.();
    drops.set(
      k,
      setTimeout(() => {
        drops.delete(k);
        post({ t: "unview", key: k });
      }, 0),
    );
  };
}

/** What the node views in the worker show (values, gradients or both). */
export function setWorkerMode(m: LiveMode) {
  if (m === mode) return;
  mode = m;
  post({ t: "mode", mode: m });
}

/** Asks for a node's summaries and parameters in full (histograms, values, matrices) in the
 * snapshots the page gets; the latest snapshot comes again at once. Returns the undo. */
export function wantFull(id: string): () => void {
  wanted.set(id, (wanted.get(id) ?? 0) + 1);
  post({ t: "full", ids: [...wanted.keys()] });
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const n = (wanted.get(id) ?? 1) - 1;
    if (n > 0) wanted.set(id, n);
    else wanted.delete(id);
    post({ t: "full", ids: [...wanted.keys()] });
  };
}

// ------------------------------------------------------------------------ visibility

let observer: IntersectionObserver | null = null;
const watchers = new Map<Element, (visible: boolean) => void>();

/**
 * Calls `cb` with whether `el` is on screen (within 200 px of the canvas's visible part) now
 * and whenever that changes; returns the undo. Without IntersectionObserver it is always on
 * screen.
 */
export function watchVisible(el: Element, cb: (visible: boolean) => void): () => void {
  if (typeof IntersectionObserver === "undefined") return () => undefined;
  if (!observer) {
    observer = new IntersectionObserver(
      (entries) => {
        for (const e of entries) watchers.get(e.target)?.(e.isIntersecting);
      },
      { rootMargin: "200px" },
    );
  }
  watchers.set(el, cb);
  observer.observe(el);
  return () => {
    watchers.delete(el);
    observer?.unobserve(el);
  };
}
