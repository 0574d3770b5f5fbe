// The teacher's side of follow mode: start a session, then push every change of the graph and of
// the classroom view to it (latest wins: at most one request in flight, the newest state next).
import type { GraphDoc } from "../api/types";
import { useEditor } from "../store/editor";
import { experimentDoc } from "../store/experiment";
import { useTrain } from "../train/store";
import { classroomApi, describeError } from "./api";
import { useClassroom, viewOf } from "./store";
import type { SessionView } from "./types";

const GRAPH_DELAY_MS = 300;
const FOLLOWERS_POLL_MS = 4000;

/** The run the teacher trains now, for followers to watch (read-only). */
const runId = () => useTrain.getState().run?.id ?? null;

let stop: (() => void) | null = null;

export const followUrl = (id: string) => `${window.location.origin}/follow/${id}`;

const view = (): SessionView => ({ ...viewOf(useClassroom.getState()), run_id: runId() });

/** The live session survives a reload of the teacher's tab (sessionStorage: this tab only). */
const KEPT = "blockprop:broadcast";

export async function startBroadcast(): Promise<void> {
  if (useClassroom.getState().broadcast) return;
  let created: Awaited<ReturnType<typeof classroomApi.createSession>>;
  try {
    created = await classroomApi.createSession(experimentDoc(), view());
  } catch (err) {
    useClassroom.getState().setBroadcast(null);
    throw new Error(describeError(err));
  }
  sessionStorage.setItem(KEPT, JSON.stringify({ id: created.id, token: created.edit_token }));
  wire(created.id, created.edit_token, created.followers);
}

/** After a reload: carry on broadcasting to the same followers, sending the graph as it is now. */
export async function resumeBroadcast(): Promise<boolean> {
  let kept: { id: string; token: string } | null = null;
  try {
    kept = JSON.parse(sessionStorage.getItem(KEPT) ?? "null");
  } catch {
    kept = null;
  }
  if (!kept?.id || !kept.token || useClassroom.getState().broadcast) return false;
  try {
    const read = await classroomApi.updateSession(kept.id, kept.token, {
      graph: experimentDoc(),
      view: view(),
    });
    wire(kept.id, kept.token, read.followers);
    return true;
  } catch {
    sessionStorage.removeItem(KEPT);
    return false;
  }
}

function wire(id: string, token: string, followers: number) {
  useClassroom.setState({ role: "teacher" });
  useClassroom.getState().setBroadcast({ id, token, followers, status: "live", error: null });

  let pending: { graph?: GraphDoc; view?: SessionView } = {};
  let inflight = false;
  let lastView = JSON.stringify(view());
  let graphTimer: ReturnType<typeof setTimeout> | undefined;

  const flush = async () => {
    if (inflight) return;
    inflight = true;
    while (pending.graph || pending.view) {
      const body = pending;
      pending = {};
      try {
        const read = await classroomApi.updateSession(id, token, body);
        const b = useClassroom.getState().broadcast;
        if (b?.id === id) {
          useClassroom
            .getState()
            .setBroadcast({ ...b, followers: read.followers, status: "live", error: null });
        }
      } catch (err) {
        const b = useClassroom.getState().broadcast;
        if (b?.id === id) {
          useClassroom
            .getState()
            .setBroadcast({ ...b, status: "error", error: describeError(err) });
        }
      }
    }
    inflight = false;
  };

  const pushView = () => {
    const v = view();
    const text = JSON.stringify(v);
    if (text === lastView) return;
    lastView = text;
    pending.view = v;
    void flush();
  };

  const unsubClassroom = useClassroom.subscribe(pushView);
  const unsubEditor = useEditor.subscribe((s, prev) => {
    if (s.revision === prev.revision) return;
    clearTimeout(graphTimer);
    graphTimer = setTimeout(() => {
      pending.graph = experimentDoc();
      void flush();
    }, GRAPH_DELAY_MS);
  });
  const unsubTrain = useTrain.subscribe((s, prev) => {
    if (s.run?.id !== prev.run?.id) pushView();
    if (s.dataset !== prev.dataset || s.settings !== prev.settings) {
      clearTimeout(graphTimer); // the followers' copy carries the dataset and settings too
      graphTimer = setTimeout(() => {
        pending.graph = experimentDoc();
        void flush();
      }, GRAPH_DELAY_MS);
    }
  });
  const poll = setInterval(async () => {
    try {
      const read = await classroomApi.session(id);
      const b = useClassroom.getState().broadcast;
      if (b?.id === id) useClassroom.getState().setBroadcast({ ...b, followers: read.followers });
    } catch {
      // shown on the next update
    }
  }, FOLLOWERS_POLL_MS);

  stop = () => {
    sessionStorage.removeItem(KEPT);
    unsubClassroom();
    unsubEditor();
    unsubTrain();
    clearInterval(poll);
    clearTimeout(graphTimer);
  };
}

export async function stopBroadcast(): Promise<void> {
  const b = useClassroom.getState().broadcast;
  stop?.();
  stop = null;
  useClassroom.getState().setBroadcast(null);
  useClassroom.setState({ role: "solo" });
  if (b) {
    try {
      await classroomApi.endSession(b.id, b.token);
    } catch {
      // already gone
    }
  }
}
