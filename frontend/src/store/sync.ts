import { ApiError, api } from "../api/client";
import type { GraphDoc } from "../api/types";
import { type EditorState, useEditor } from "./editor";
import { experimentDoc } from "./experiment";

/** Validation and the local draft follow the document's revision; nothing else triggers them. */

const VALIDATE_DELAY_MS = 250;
const DRAFT_DELAY_MS = 400;
export const DRAFT_KEY = "blockprop:draft";

export interface Draft {
  doc: GraphDoc;
  graphId: string | null;
  graphRevision?: number | null;
  dirty: boolean;
}

export function readDraft(): Draft | null {
  try {
    const raw = localStorage.getItem(DRAFT_KEY);
    const draft = raw ? (JSON.parse(raw) as Draft) : null;
    return draft?.doc?.version === 1 && Array.isArray(draft.doc.nodes) ? draft : null;
  } catch {
    return null;
  }
}

export function writeDraft(s: EditorState = useEditor.getState()) {
  if (s.opsStatus !== "ready") return;
  const draft: Draft = {
    // the whole experiment, so that a reload keeps the dock's dataset and settings too
    doc: s === useEditor.getState() ? experimentDoc() : s.toDoc(),
    graphId: s.graphId,
    // The revision the edits are based on: a save after a reload still refuses (409) to
    // overwrite a newer version saved elsewhere meanwhile.
    graphRevision: s.graphRevision,
    dirty: s.revision !== s.savedRevision,
  };
  try {
    localStorage.setItem(DRAFT_KEY, JSON.stringify(draft));
  } catch {
    // Storage full or disabled: the draft is a convenience, the editor keeps working.
  }
}

/** Starts the debounced validate-and-autosave loop; returns a function that stops it. */
export function startSync(): () => void {
  let validateTimer: ReturnType<typeof setTimeout> | undefined;
  let draftTimer: ReturnType<typeof setTimeout> | undefined;
  let inflight: AbortController | null = null;

  const validate = async () => {
    const s = useEditor.getState();
    if (s.opsStatus === "error")
      s.setValidation("offline", "The op catalogue could not be loaded.");
    if (s.opsStatus !== "ready") return;
    inflight?.abort();
    if (s.nodes.length === 0) {
      s.setValidation("empty");
      return;
    }
    const ctrl = new AbortController();
    inflight = ctrl;
    const revision = s.revision;
    try {
      const result = await api.validate(s.toDoc(), ctrl.signal);
      // A newer edit has its own request on the way; this answer describes an old graph.
      if (useEditor.getState().revision === revision) useEditor.getState().setValidation(result);
    } catch (err) {
      if (ctrl.signal.aborted || useEditor.getState().revision !== revision) return;
      const ed = useEditor.getState();
      // A 4xx means the server read the graph and rejected it: show that as a graph error.
      if (err instanceof ApiError && err.status < 500) {
        ed.setValidation({ ok: false, order: [], shapes: {}, errors: [err.body] });
      } else {
        ed.setValidation(
          "offline",
          err instanceof ApiError ? err.message : "The server cannot be reached.",
        );
      }
    }
  };

  const schedule = () => {
    const s = useEditor.getState();
    // An empty graph needs no server to say so; anything else waits for its answer.
    s.setValidation(s.nodes.length === 0 && s.opsStatus === "ready" ? "empty" : "pending");
    clearTimeout(validateTimer);
    validateTimer = setTimeout(validate, VALIDATE_DELAY_MS);
    clearTimeout(draftTimer);
    draftTimer = setTimeout(() => writeDraft(), DRAFT_DELAY_MS);
  };

  const unsubscribe = useEditor.subscribe((s, prev) => {
    if (s.revision !== prev.revision || s.opsStatus !== prev.opsStatus) schedule();
    else if (s.savedRevision !== prev.savedRevision || s.graphId !== prev.graphId) writeDraft(s);
  });
  if (useEditor.getState().opsStatus === "ready") schedule();

  return () => {
    unsubscribe();
    clearTimeout(validateTimer);
    clearTimeout(draftTimer);
    inflight?.abort();
  };
}
