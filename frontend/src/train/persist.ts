// What the training panel keeps in this browser (localStorage, per graph: the id, or "draft"
// before it is saved) and the run named in the URL (`?run=`).
import { useEditor } from "../store/editor";
import type { TrainSettings } from "./settings";
import type { DatasetSpec } from "./types";

export const graphKey = () => useEditor.getState().graphId ?? "draft";
const LAST_RUN = "blockprop:lastrun:";
const RUN_LIST = "blockprop:runs:";
const SETTINGS_KEY = "blockprop:train:";
const UPLOADS_KEY = "blockprop:uploads";

function readJson<T>(key: string, fallback: T): T {
  try {
    const v = localStorage.getItem(key);
    return v ? (JSON.parse(v) as T) : fallback;
  } catch {
    return fallback;
  }
}
const writeJson = (key: string, v: unknown) => {
  try {
    localStorage.setItem(key, JSON.stringify(v));
  } catch {
    // storage full or off: nothing to keep
  }
};

/** The runs this browser started on a graph, newest first, and the one it watched last. */
export const localRuns = {
  ids: (key = graphKey()) => readJson<string[]>(RUN_LIST + key, []),
  add(id: string, key = graphKey()) {
    writeJson(RUN_LIST + key, [id, ...localRuns.ids(key).filter((x) => x !== id)].slice(0, 40));
  },
  last: (key = graphKey()) =>
    readJson<{ id: string; sig: string | null } | null>(LAST_RUN + key, null),
  remember(id: string | null, sig: string | null, key = graphKey()) {
    if (id) writeJson(LAST_RUN + key, { id, sig });
    else localStorage.removeItem(LAST_RUN + key);
  },
};

/** The dataset and trainer settings the panel was set to on a graph. */
export const savedSettings = {
  read: (key = graphKey()) =>
    readJson<{ dataset?: DatasetSpec; settings?: TrainSettings } | null>(SETTINGS_KEY + key, null),
  write(s: { dataset: DatasetSpec; settings: TrainSettings }, key = graphKey()) {
    writeJson(SETTINGS_KEY + key, { dataset: s.dataset, settings: s.settings });
  },
};

export interface Upload {
  id: string;
  name: string;
  task: string;
  features: number;
}

/** The datasets this browser uploaded (any graph). */
export const savedUploads = {
  read: () => readJson<Upload[]>(UPLOADS_KEY, []),
  write: (uploads: Upload[]) => writeJson(UPLOADS_KEY, uploads),
};

export function urlRun(): string | null {
  return new URL(window.location.href).searchParams.get("run");
}

export function setUrlRun(id: string | null) {
  const url = new URL(window.location.href);
  if ((url.searchParams.get("run") ?? null) === id) return;
  if (id) url.searchParams.set("run", id);
  else url.searchParams.delete("run");
  window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
}
