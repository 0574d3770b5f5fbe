import {
  blockBackwardLines,
  blockForwardLines,
  blockParams,
  blockRule,
  blockVjpRule,
} from "./block";
import { Lines } from "./Lines";
import { useClassroom } from "./store";
import { Tex } from "./Tex";
import { type Direction, enclosing, type Step } from "./walk";

/** A module instance stepped over: one step, the module as one block G(x, w). */
export function BlockCard({ kind, id }: { kind: Direction; id: string }) {
  const walk = useClassroom((s) => s.walk);
  const state = useClassroom((s) => s.result?.state);
  const follower = useClassroom((s) => s.role === "follower");
  const block = walk?.blocks[id];
  if (!walk || !block || !state) return null;
  const backward = kind === "backward";
  const params = blockParams(block, state);
  const first = Object.values(block.outputs)[0];
  const wires = Object.entries(block.inputs)
    .map(([port, p]) => `${port} ← ${p.key}`)
    .join(", ");
  return (
    <section
      className="cx-card is-block"
      data-testid="explain-card"
      data-phase={kind}
      data-node={block.id}
      data-module={block.module}
      data-value={backward ? undefined : JSON.stringify(first?.value ?? null)}
      data-grad={backward ? JSON.stringify(first?.grad ?? null) : undefined}
      data-vjps={backward ? JSON.stringify(block.vjps) : undefined}
    >
      <header className="cx-card-head">
        <span className={`cx-phase is-${kind}`}>{kind}</span>
        <b>Module {block.module}</b> <code>{block.id}</code>
        <span className="muted cx-wires">{wires}</span>
      </header>
      <Inside step={{ kind, node: block.id, block: true }} />
      <div className="cx-own">
        <span className="muted">
          {backward
            ? "the block's vector-Jacobian product, taken whole: what it sends back to each input"
            : "the module as one block: a function of its inputs and its parameters w"}
        </span>
        <Tex
          tex={backward ? blockVjpRule(block) : blockRule(block)}
          display
          testid={backward ? "explain-block-backward" : "explain-block-forward"}
        />
      </div>
      <Lines
        lines={backward ? blockBackwardLines(block, walk) : blockForwardLines(block)}
        testid={backward ? "explain-block-vjps" : "explain-block-values"}
      />
      <p className="muted" data-testid="explain-block-inside">
        {block.nodes.length} blocks inside ({block.nodes.join(", ")}); w:{" "}
        {params.length ? params.join(", ") : "none"}
        {block.tie ? ` (tied: the parameters of ${block.tie})` : ""}.
      </p>
      {!follower && (
        <button
          type="button"
          className="btn small"
          data-testid="explain-block-open"
          onClick={() => useClassroom.getState().stepInto({ kind, node: block.id })}
        >
          Walk through {block.id}'s {block.nodes.length} inner blocks
        </button>
      )}
    </section>
  );
}

/** Where the walk is: inside which module instances (stepped into), outermost first. */
export function Inside({ step }: { step: Step }) {
  const walk = useClassroom((s) => s.walk);
  const around = walk ? enclosing(walk, step) : [];
  if (around.length === 0) return null;
  return (
    <p className="cx-inside" data-testid="explain-inside" data-block={around[around.length - 1].id}>
      inside {around.map((b) => `${b.id} (module ${b.module})`).join(" › ")}
    </p>
  );
}
