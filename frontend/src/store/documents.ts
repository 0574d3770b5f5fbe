import { ApiError, api, editTokens, knownGraphs } from "../api/client";
import type { GraphDoc } from "../api/types";
import { useTrain } from "../train/store";
import { type LoadOptions, useEditor } from "./editor";
import { experimentDoc, restoreExperiment } from "./experiment";
import { readDraft, writeDraft } from "./sync";
import { useUi } from "./ui";

/** Loading and keeping graphs: the server, the URL, files and the local draft. The store holds
 * the document; these functions move it in and out. */

const GRAPH_PATH = /^\/g\/([A-Za-z0-9_-]+)\/?$/;

export const graphIdFromPath = (path: string) => GRAPH_PATH.exec(path)?.[1] ?? null;

function setPath(path: string, replace = false) {
  if (window.location.pathname === path) return;
  if (replace) window.history.replaceState(null, "", path);
  else window.history.pushState(null, "", path);
}

const notify = (kind: "error" | "info", text: string) => useUi.getState().notify(kind, text);

const describe = (err: unknown) =>
  err instanceof ApiError ? err.message : err instanceof Error ? err.message : String(err);

function load(doc: GraphDoc, opts: LoadOptions) {
  const dangling = useEditor.getState().loadDoc(doc, opts);
  restoreExperiment(doc);
  if (dangling.length) notify("error", `Dropped links to missing nodes: ${dangling.join(", ")}`);
}

/** Asks before throwing away edits the server has not seen (the draft is about to be replaced). */
export function confirmDiscard(): boolean {
  const s = useEditor.getState();
  if (s.revision === s.savedRevision || s.nodes.length === 0) return true;
  return window.confirm("This graph has unsaved changes. Discard them?");
}

/** First load: the op catalogue, then the graph named by the URL, else the local draft. */
export async function boot() {
  const ed = useEditor.getState();
  try {
    ed.setOps(await api.ops());
  } catch (err) {
    ed.setOpsFailed();
    notify("error", `Could not load the op catalogue: ${describe(err)}`);
    return;
  }
  await openFromLocation();
}

export async function openFromLocation() {
  const id = graphIdFromPath(window.location.pathname);
  const draft = readDraft();
  if (id) {
    if (draft && draft.graphId === id && draft.dirty) {
      load(draft.doc, { graphId: id, graphRevision: draft.graphRevision, dirty: true });
      return;
    }
    await openGraph(id, { push: false });
    return;
  }
  if (draft) {
    load(draft.doc, {
      graphId: draft.graphId,
      graphRevision: draft.graphRevision,
      dirty: draft.dirty,
    });
    if (draft.graphId) setPath(`/g/${draft.graphId}`, true);
  } else {
    useEditor.getState().newGraph();
  }
}

export async function openGraph(id: string, { push = true } = {}) {
  try {
    const stored = await api.graph(id);
    load(stored.graph, { graphId: stored.id, graphRevision: stored.revision });
    knownGraphs.remember(stored.id);
    if (push) setPath(`/g/${stored.id}`);
  } catch (err) {
    notify("error", `Could not open graph ${id}: ${describe(err)}`);
    if (!push) {
      setPath("/", true);
      useEditor.getState().newGraph();
    }
  }
}

export async function openExample(id: string) {
  try {
    const ex = await api.example(id);
    const doc = {
      ...ex.graph,
      name: ex.graph.name || ex.title,
      description: ex.graph.description || ex.description,
    };
    // An example is not the user's work until they change it: loaded clean, so switching to
    // another one does not ask; the first edit makes it unsaved (and guarded) as usual.
    load(doc, { graphId: null });
    useTrain.getState().applyExample(ex.dataset, ex.train);
    setPath("/");
    notify("info", `Loaded example “${ex.title}”.`);
  } catch (err) {
    notify("error", `Could not load example ${id}: ${describe(err)}`);
  }
}

/** "Open this run as a graph": what a run trained, as a new (unsaved) document with its
 * trained state, its dataset and its settings in the dock. */
export async function openRunAsGraph(runId: string) {
  if (!confirmDiscard()) return;
  try {
    const doc = await api.runGraph(runId);
    load({ ...doc, name: doc.name || `run ${runId}` }, { graphId: null, dirty: true });
    setPath("/");
    notify("info", `Opened run ${runId} as a graph, with its trained weights.`);
  } catch (err) {
    notify("error", `Could not open run ${runId}: ${describe(err)}`);
  }
}

export function newGraph() {
  useEditor.getState().newGraph();
  setPath("/");
}

export async function saveGraph() {
  const s = useEditor.getState();
  const doc = experimentDoc();
  const token = s.graphId ? editTokens.get(s.graphId) : null;
  try {
    if (s.graphId && token) {
      try {
        const stored = await api.updateGraph(s.graphId, doc, token, s.graphRevision);
        useEditor.getState().markSaved(stored.id, stored.revision);
        notify("info", "Saved.");
        return;
      } catch (err) {
        // Not ours any more, deleted, or saved elsewhere meanwhile (409): keep this version as
        // a new copy rather than lose it or overwrite someone else's.
        if (!(err instanceof ApiError) || ![401, 403, 404, 409].includes(err.status)) throw err;
      }
    }
    const created = await api.createGraph(doc);
    editTokens.set(created.id, created.edit_token);
    knownGraphs.remember(created.id);
    useEditor.getState().markSaved(created.id, created.revision);
    setPath(`/g/${created.id}`);
    notify(
      "info",
      s.graphId
        ? `Saved as a new copy, ${created.id} (the original could not be updated).`
        : "Saved.",
    );
  } catch (err) {
    notify("error", `Save failed: ${describe(err)}`);
  }
}

/** Parses a graph document from a file's text; throws with a readable message. */
export function parseDoc(text: string): GraphDoc {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error("the file is not JSON");
  }
  // Accept a bare document or a stored-graph/example envelope that wraps one.
  const doc = (data as { graph?: unknown })?.graph ?? data;
  const d = doc as Partial<GraphDoc>;
  if (!d || typeof d !== "object" || d.version !== 1 || !Array.isArray(d.nodes)) {
    throw new Error("not a Blockprop graph document (version 1 with a nodes list)");
  }
  return { ...d, name: d.name || "imported" } as GraphDoc;
}

export async function importFile(file: File) {
  try {
    const doc = parseDoc(await file.text());
    // The file still holds what was imported: nothing is lost by leaving it unedited.
    load(doc, { graphId: null });
    setPath("/");
    notify("info", `Imported ${file.name}.`);
  } catch (err) {
    notify("error", `Import failed: ${describe(err)}`);
  }
}

export function exportFile() {
  const doc = experimentDoc();
  const blob = new Blob([`${JSON.stringify(doc, null, 2)}\n`], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = `${(doc.name ?? "").replace(/[^A-Za-z0-9_-]+/g, "_") || "graph"}.json`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Browser-level wiring: back/forward between graphs, the unsaved-changes guard. */
export function startDocumentWiring(): () => void {
  const onPop = () => void openFromLocation();
  const onBeforeUnload = (e: BeforeUnloadEvent) => {
    writeDraft(); // flush the debounced draft: a reload must lose nothing
    const s = useEditor.getState();
    if (s.revision !== s.savedRevision && s.nodes.length > 0) {
      e.preventDefault();
      e.returnValue = "";
    }
  };
  window.addEventListener("popstate", onPop);
  window.addEventListener("beforeunload", onBeforeUnload);
  return () => {
    window.removeEventListener("popstate", onPop);
    window.removeEventListener("beforeunload", onBeforeUnload);
  };
}
