// The student's side of follow mode: WS /api/sessions/{id}/stream, read-only. Every frame updates
// the followed graph and the classroom view; a dropped connection comes back with a fresh hello.
import { create } from "zustand";
import { api } from "../api/client";
import type { GraphDoc } from "../api/types";
import { useEditor } from "../store/editor";
import { useUi } from "../store/ui";
import { describeError } from "./api";
import { useClassroom } from "./store";
import type { SessionFrame, SessionView } from "./types";

const FOLLOW_PATH = /^\/follow\/([A-Za-z0-9_-]+)\/?$/;

export const followIdFromPath = (path: string) => FOLLOW_PATH.exec(path)?.[1] ?? null;

/** Whether this page is a follower's view (`/follow/{id}`), decided once at load. */
export const isFollowPage = () => followIdFromPath(window.location.pathname) !== null;

export type FollowStatus = "connecting" | "live" | "ended" | "lost";

interface FollowState {
  id: string | null;
  status: FollowStatus;
  doc: GraphDoc | null;
  graphVersion: number;
  view: SessionView;
  runId: string | null;
  followers: number;
  detail: string | null;
}

/** The connection and what the teacher last sent (the classroom store mirrors the view). */
export const useFollow = create<FollowState>()(() => ({
  id: null,
  status: "connecting",
  doc: null,
  graphVersion: 0,
  view: {},
  runId: null,
  followers: 0,
  detail: null,
}));

function wsUrl(id: string): string {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${window.location.host}/api/sessions/${encodeURIComponent(id)}/stream`;
}

function apply(doc: GraphDoc | undefined, graphVersion: number, view: SessionView) {
  const st = useFollow.getState();
  const graphChanged = doc !== undefined && graphVersion !== st.graphVersion;
  const nextDoc = graphChanged ? doc : st.doc;
  useFollow.setState({
    status: "live",
    doc: nextDoc,
    graphVersion: graphChanged ? graphVersion : st.graphVersion,
    view,
    runId: view.run_id ?? null,
    detail: null,
  });
  const c = useClassroom.getState();
  if (nextDoc && (graphChanged || c.followDoc === null)) c.follow(nextDoc);
  void c.applyView(view, graphChanged);
}

/**
 * The follow page instead of the editor's boot: only the op catalogue (nodes are drawn from it).
 * The student's own draft is left alone: nothing here reads or writes it, and leaving the page
 * never asks about unsaved changes.
 */
export function startFollowPage(): () => void {
  let alive = true;
  api
    .ops()
    .then((ops) => alive && useEditor.getState().setOps(ops))
    .catch((err) => {
      if (!alive) return;
      useEditor.getState().setOpsFailed();
      useUi.getState().notify("error", `Could not load the op catalogue: ${describeError(err)}`);
    });
  return () => {
    alive = false;
  };
}

/** Connects (and reconnects) to a session; returns a function that stops following. */
export function startFollowing(id: string): () => void {
  let ws: WebSocket | null = null;
  let stopped = false;
  let retry = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  useFollow.setState({ id, status: "connecting" });

  const connect = () => {
    if (stopped) return;
    ws = new WebSocket(wsUrl(id));
    ws.onmessage = (ev) => {
      let frame: SessionFrame;
      try {
        frame = JSON.parse(String(ev.data)) as SessionFrame;
      } catch {
        return;
      }
      retry = 0;
      if (frame.type === "hello") {
        const s = frame.session;
        // a fresh hello always carries the graph: treat it as changed when it is new to us
        const known = useFollow.getState().graphVersion === s.graph_version;
        apply(known ? undefined : s.graph, s.graph_version, s.view);
        useFollow.setState({ followers: s.followers });
      } else if (frame.type === "state") {
        apply(frame.graph, frame.graph_version, frame.view);
        useFollow.setState({ followers: frame.followers });
      } else if (frame.type === "closed") {
        stopped = true;
        useFollow.setState({ status: "ended", detail: frame.reason });
      }
    };
    ws.onclose = (ev) => {
      if (stopped) return;
      if (ev.code === 4404 || ev.code === 1008) {
        // unknown or ended session; or dropped as too slow (then try again)
        if (ev.code === 4404) {
          useFollow.setState({
            status: "ended",
            detail: "This session has ended or never existed.",
          });
          return;
        }
      }
      useFollow.setState({ status: "lost", detail: "Connection lost; reconnecting…" });
      retry = Math.min(retry + 1, 6);
      timer = setTimeout(connect, Math.min(8000, 400 * 2 ** retry));
    };
  };
  // a session that does not exist is refused at the handshake: ask once over HTTP to say so
  fetch(`/api/sessions/${encodeURIComponent(id)}`)
    .then((r) => {
      if (r.status === 404) {
        stopped = true;
        useFollow.setState({ status: "ended", detail: "This session has ended or never existed." });
      } else connect();
    })
    .catch(() => connect());

  return () => {
    stopped = true;
    clearTimeout(timer);
    ws?.close();
  };
}
