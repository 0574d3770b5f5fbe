// How busy the server's training pool is (GET /api/load), for the teacher's glance at the dock
// bar: polled every few seconds while the page is visible, and only then.
import { trainApi } from "./api";
import type { PoolLoad } from "./types";

export const LOAD_POLL_MS = 5000;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const percent = (share: number) => `${Math.round(share * 100)} %`;

/** The line's parts: "pool: 12 training", "3 waiting", "CPU 64 %" (a narrow dock wraps
 * between them). */
export function loadParts(load: PoolLoad): string[] {
  return [
    `pool: ${load.running} training`,
    `${load.queued} waiting`,
    `CPU ${percent(load.cpu_share)}`,
  ];
}

/** The line itself: "pool: 12 training · 3 waiting · CPU 64 %". */
export const loadText = (load: PoolLoad): string => loadParts(load).join(" · ");

/** Its tooltip: what the numbers mean. */
export function loadTitle(load: PoolLoad): string {
  return [
    "The server's training pool, for everyone using this server:",
    `${plural(load.running, "run")} training now, ${load.live} held by a worker (paused ones ` +
      `too), ${load.queued} waiting for a place.`,
    `CPU ${percent(load.cpu_share)}: the share of what the pool admits ` +
      `(${plural(load.workers, "worker process", "worker processes")}, a core each) that the ` +
      "live runs reserve; when it is full, new runs wait their turn and start by themselves.",
  ].join("\n");
}

/** Asks for the load now and every `every` ms while the page is visible (a hidden tab asks
 * nothing; showing it again asks at once). `onLoad(null)` when the server does not answer.
 * Returns the stop. */
export function pollLoad(
  onLoad: (load: PoolLoad | null) => void,
  fetchLoad: (signal: AbortSignal) => Promise<PoolLoad> = trainApi.load,
  every = LOAD_POLL_MS,
): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let inFlight: AbortController | null = null;
  let stopped = false;
  const visible = () => document.visibilityState !== "hidden";

  const ask = async () => {
    timer = null;
    if (stopped || !visible()) return;
    const ctrl = new AbortController();
    inFlight = ctrl;
    try {
      const load = await fetchLoad(ctrl.signal);
      if (!ctrl.signal.aborted) onLoad(load);
    } catch {
      if (!ctrl.signal.aborted) onLoad(null);
    }
    inFlight = null;
    if (!stopped && visible()) timer = setTimeout(ask, every);
  };

  const onVisibility = () => {
    if (visible()) {
      if (!timer && !inFlight) void ask();
    } else {
      if (timer) clearTimeout(timer);
      timer = null;
      inFlight?.abort();
    }
  };

  document.addEventListener("visibilitychange", onVisibility);
  void ask();
  return () => {
    stopped = true;
    document.removeEventListener("visibilitychange", onVisibility);
    if (timer) clearTimeout(timer);
    inFlight?.abort();
  };
}
