// The live worker (see live.ts): the run streams' WebSockets, every frame parsed here, and the
// nodes' live views and the decision boundary drawn here into the canvases the page handed
// over. The page gets each frame parsed; a snapshot or boundary frame light (light.ts), the
// full ones kept here for the drawing. The
// seq/resync/reconnect logic stays in the page's RunStream (stream.ts): to it these are plain
// sockets.
import { BOUNDARY_SIZE, byNode, drawBoundary, drawNode, NODE_H, NODE_W, prepare } from "./draw";
import { lightBoundary, lighten } from "./light";
import type { FromWorker, ToWorker } from "./live";
import type { LiveMode } from "./store";
import type { BoundaryFrame, NodeSummary, ServerFrame, SnapshotFrame } from "./types";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(m: FromWorker): void;
  requestAnimationFrame?: (cb: () => void) => number;
};

interface View {
  /** the node it shows, or null: the decision boundary */
  id: string | null;
  canvas: OffscreenCanvas;
  visible: boolean;
  /** what it shows: the summary or boundary frame, and the mode it was drawn with */
  drawn: NodeSummary | BoundaryFrame | null;
  mode: LiveMode | null;
}

const sockets = new Map<number, WebSocket>();
const views = new Map<number, View>();
let mode: LiveMode = "value";
let dpr = 1;
let full = new Set<string>();
/** the latest snapshot, in full, and the socket it came from */
let latest: { sid: number; snap: SnapshotFrame; nodes: Map<string, NodeSummary> } | null = null;
/** the latest boundary frame, in full */
let boundary: BoundaryFrame | null = null;

const post = (m: FromWorker) => scope.postMessage(m);

// ------------------------------------------------------------------------------ sockets

function open(sid: number, url: string) {
  let ws: WebSocket;
  try {
    ws = new WebSocket(url);
  } catch {
    post({ t: "close", sid, code: 1006, reason: "" });
    return;
  }
  sockets.set(sid, ws);
  ws.onopen = () => post({ t: "open", sid });
  ws.onmessage = (e) => {
    if (typeof e.data !== "string") return;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(e.data) as ServerFrame;
    } catch {
      return;
    }
    if (frame.type === "snapshot") {
      const snap = frame as SnapshotFrame;
      latest = { sid, snap, nodes: byNode(snap.nodes ?? {}) };
      schedule();
      frame = lighten(snap, full);
    } else if (frame.type === "boundary") {
      boundary = frame as BoundaryFrame;
      schedule();
      frame = lightBoundary(boundary);
    }
    post({ t: "frame", sid, frame });
  };
  ws.onclose = (e) => {
    if (sockets.get(sid) !== ws) return;
    sockets.delete(sid);
    post({ t: "close", sid, code: e.code, reason: e.reason });
  };
  ws.onerror = () => post({ t: "error", sid });
}

function close(sid: number, code = 1000) {
  const ws = sockets.get(sid);
  if (!ws) return;
  sockets.delete(sid);
  ws.onmessage = null;
  ws.onclose = null;
  ws.onerror = null;
  // Closing a socket that is still connecting makes the browser log an error: let it open
  // first, then close it.
  if (ws.readyState === 0) ws.onopen = () => ws.close(code);
  else {
    ws.onopen = null;
    try {
      ws.close(code);
    } catch {
      // already closed
    }
  }
}

// ---------------------------------------------------------------------------- drawing

let scheduled = false;

/** Draws at the worker's next animation frame (a timer in case it has none or it stalls). */
function schedule() {
  if (scheduled) return;
  scheduled = true;
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    scheduled = false;
    draw();
  };
  if (typeof scope.requestAnimationFrame === "function") scope.requestAnimationFrame(run);
  setTimeout(run, 100);
}

function draw() {
  for (const v of views.values()) {
    if (!v.visible) continue;
    if (v.id === null) {
      if (!boundary || boundary === v.drawn) continue;
      const ctx = prepare(v.canvas, BOUNDARY_SIZE, BOUNDARY_SIZE, dpr);
      if (ctx) drawBoundary(ctx, boundary);
      v.drawn = boundary;
      continue;
    }
    const s = latest?.nodes.get(v.id);
    if (!s || (s === v.drawn && v.mode === mode)) continue;
    const ctx = prepare(v.canvas, NODE_W, NODE_H, dpr);
    if (!ctx) continue;
    drawNode(ctx, s, mode);
    v.drawn = s;
    v.mode = mode;
  }
}

// ---------------------------------------------------------------------------- messages

scope.onmessage = (e) => {
  const m = e.data;
  switch (m.t) {
    case "open":
      open(m.sid, m.url);
      break;
    case "send":
      try {
        sockets.get(m.sid)?.send(m.data);
      } catch {
        // closing: the page learns from the close
      }
      break;
    case "close":
      close(m.sid, m.code);
      break;
    case "view": {
      if (m.dpr) dpr = m.dpr;
      const v = views.get(m.key);
      if (m.canvas) {
        views.set(m.key, {
          id: m.id,
          canvas: m.canvas,
          visible: true,
          drawn: null,
          mode: null,
        });
      } else if (v && v.id !== m.id) [v.id, v.drawn] = [m.id, null];
      schedule();
      break;
    }
    case "unview":
      views.delete(m.key);
      break;
    case "visible": {
      const v = views.get(m.key);
      if (v) {
        v.visible = m.visible;
        if (m.visible) schedule();
      }
      break;
    }
    case "mode":
      mode = m.mode;
      schedule();
      break;
    case "full": {
      const before = full;
      full = new Set(m.ids);
      // a node newly asked for in full: the latest snapshot again, with it
      if (latest && sockets.has(latest.sid) && m.ids.some((id) => !before.has(id))) {
        post({ t: "frame", sid: latest.sid, frame: lighten(latest.snap, full) });
      }
      break;
    }
  }
};
