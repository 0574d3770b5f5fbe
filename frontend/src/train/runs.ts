// A run as the panel sees it, and what is said about runs: the graph a run trains (its
// signature), whether ▶ would resume it, a pace worth watching, a label for the history.
import type { GraphDoc } from "../api/types";
import { configOf, LIVE, type TrainSettings } from "./settings";
import {
  type DatasetInfo,
  type DatasetSpec,
  isHeld,
  isLive,
  type QueuePlace,
  type RunRead,
  type RunStatus,
} from "./types";

export interface RunView {
  id: string;
  graphId: string | null;
  name: string;
  status: RunStatus;
  /** a worker holds the run: it can be controlled (see `isLive`; a held `diverged` run too) */
  live: boolean;
  reason: string | null;
  /** status `queued`: where it stands (from the REST answer, then the stream's status frames) */
  queue: QueuePlace | null;
  step: number;
  epoch: number;
  divergedNode: string | null;
  error: { code: string; message: string } | null;
  config: Record<string, unknown>;
  dataset: DatasetSpec;
  canControl: boolean;
  createdAt: number;
  /** the graph as trained (see `signature`), when this browser started the run */
  sig: string | null;
}

export function runView(r: RunRead, canControl: boolean, sig: string | null): RunView {
  return {
    id: r.id,
    graphId: r.graph_id,
    name: r.name,
    status: r.status,
    live: isLive(r.status, r.live),
    reason: r.reason ?? null,
    queue: r.status === "queued" ? (r.queue ?? null) : null,
    step: r.step,
    epoch: r.epoch,
    divergedNode: r.diverged_node ?? null,
    error: (r.error as RunView["error"]) ?? null,
    config: r.config ?? {},
    dataset: r.dataset,
    canControl,
    createdAt: r.created_at,
    sig,
  };
}

/** The run's status as the status line says it (and a screen reader hears it): the status,
 * "diverged — paused at step N" when held, "waiting — 3 ahead of you (about 20 s)" when queued. */
export function statusText(run: Pick<RunView, "status" | "live" | "step" | "queue">): string {
  if (run.status === "queued") return queueText(run.queue);
  if (isHeld(run)) return `diverged — paused at step ${run.step}`;
  return run.status;
}

/** Where a queued run stands, for a person: "waiting — you are next", "waiting — 3 ahead of
 * you (about 20 s)"; "waiting for a place" when the server has not said. */
export function queueText(queue: QueuePlace | null | undefined): string {
  if (!queue) return "waiting for a place";
  const who = queue.ahead <= 0 ? "you are next" : `${queue.ahead} ahead of you`;
  const eta = queue.eta_seconds;
  return eta == null || !Number.isFinite(eta)
    ? `waiting — ${who}`
    : `waiting — ${who} (${etaText(eta)})`;
}

/** A wait estimate, as rough as it is: "about 20 s", "about 3 min", "over an hour". */
export function etaText(seconds: number): string {
  if (Math.round(seconds) < 60) return `about ${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 3600) return `about ${Math.round(seconds / 60)} min`;
  return "over an hour";
}

/** What a run trains: the graph without layout and trained state. Two documents with the
 * same signature train the same way. */
export function signature(doc: GraphDoc): string {
  return JSON.stringify(
    [...doc.nodes]
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((n) => [n.id, n.op, n.params ?? {}, n.inputs ?? {}]),
  );
}

const stable = (v: unknown) => JSON.stringify(v, Object.keys((v as object) ?? {}).sort());

function clean(o: Record<string, unknown>) {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
}

/** Why ▶ would start a new run rather than resume this one: the graph, the dataset or a
 * setting that cannot change mid-run differs from the run's; null when it would resume. */
export function staleReason(
  run: RunView,
  settings: TrainSettings,
  dataset: DatasetSpec,
  sig: string,
): string | null {
  if (run.sig !== null && run.sig !== sig) return "the graph changed";
  const { name, ...rest } = dataset;
  const { name: rn, ...rrest } = run.dataset;
  if (name !== rn || stable(clean(rest)) !== stable(clean(rrest))) return "the dataset changed";
  for (const [k, v] of Object.entries(configOf(settings))) {
    if (LIVE.has(k)) continue;
    if (k in run.config && JSON.stringify(run.config[k]) !== JSON.stringify(v)) {
      return `${k} changed`;
    }
  }
  return null;
}

/** Steps per second that make a run of these settings last about eight seconds. */
export function watchableSpeed(s: TrainSettings, d: DatasetSpec, datasets: DatasetInfo[]): number {
  const info = datasets.find((x) => x.name === d.name);
  const n = (typeof d.n === "number" ? d.n : Number(info?.params?.n)) || 200;
  const train = Math.max(1, Math.round(n * (1 - d.test_fraction)));
  const perEpoch = s.batch_size ? Math.ceil(train / Math.min(s.batch_size, train)) : 1;
  const total = s.epochs * perEpoch;
  if (!total) return 0;
  const speed = total / 8;
  return speed >= 20 ? Math.round(speed / 10) * 10 : Math.max(2, Math.round(speed));
}

export function runLabel(r: {
  config: Record<string, unknown>;
  dataset: { name: string };
  created_at: number;
}) {
  const c = r.config;
  const batch = c.batch_size == null ? "full" : `b${c.batch_size}`;
  const time = new Date(r.created_at * 1000).toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
  });
  return `${time} ${String(c.optimizer ?? "sgd")} lr ${c.lr} ${batch}`;
}
