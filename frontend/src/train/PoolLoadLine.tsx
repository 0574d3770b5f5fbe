import { useEffect, useState } from "react";
import { loadParts, loadTitle, pollLoad } from "./load";
import type { PoolLoad } from "./types";

/** The teacher's glance at the server's training pool: runs training, waiting, CPU share. */
export function PoolLoadLine() {
  const [load, setLoad] = useState<PoolLoad | null>(null);
  useEffect(() => pollLoad(setLoad), []);
  if (!load) return null;
  const [training, waiting, cpu] = loadParts(load);
  return (
    <span
      className={`pool-load${load.queued > 0 ? " is-busy" : ""}`}
      data-testid="pool-load"
      data-workers={load.workers}
      data-live={load.live}
      data-running={load.running}
      data-queued={load.queued}
      data-cpu-share={load.cpu_share}
      title={loadTitle(load)}
    >
      <span>{training}</span>
      {" · "}
      <span>{waiting}</span>
      {" · "}
      <span>{cpu}</span>
    </span>
  );
}
