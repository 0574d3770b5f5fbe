import type { OpSpec } from "../api/types";
import { useEditor } from "../store/editor";
import { BlockCard, Inside } from "./BlockCard";
import { JacobianView } from "./JacobianView";
import { Lines } from "./Lines";
import { forwardLines, incomingLines, ruleLines, updateLine, wiring } from "./lines";
import { selectStep, shortId, useClassroom } from "./store";
import { Tex } from "./Tex";
import { texNumber, texValue } from "./tex";
import type { ExplainNode } from "./types";
import { paramKeys } from "./walk";

/** The explanation of the current step: the op's own formula, then the numbers plugged in. */
export function StepCard() {
  const step = useClassroom(selectStep);
  const result = useClassroom((s) => s.result);
  const walk = useClassroom((s) => s.walk);
  const position = useClassroom((s) => s.position);
  const ops = useEditor((s) => s.ops);
  if (!result || !walk) return null;
  if (!step) {
    const forward = walk.steps.filter((s) => s.kind === "forward").length;
    const backward = walk.steps.filter((s) => s.kind === "backward").length;
    const blocks = Object.keys(walk.blocks).length;
    return (
      <section className="cx-card" data-testid="explain-card" data-phase="start">
        <h3>One sample through the graph</h3>
        <p>
          {forward} forward steps in topological order, then {backward} backward steps in reverse
          {walk.updateAt ? ", then one update of a parameter" : ""}. Press <kbd>→</kbd> or{" "}
          <b>Next</b>.
        </p>
        {blocks > 0 && (
          <p className="muted" data-testid="explain-blocks-note">
            A module instance ({blocks} here) is one step, the module as one block G(x, w), unless
            you step into it: <b>Step into</b> (<kbd>↓</kbd>) walks through the inner blocks of the
            instance it names, <b>Step out</b> (<kbd>↑</kbd>) takes it whole again.
          </p>
        )}
        <WeightsLine />
        {result.loss !== null && (
          <p className="muted">
            This sample's cost: <Tex tex={`C = ${texNumber(result.loss)}`} />
          </p>
        )}
      </section>
    );
  }
  if (step.kind === "update") return <UpdateCard />;
  if (step.block) return <BlockCard kind={step.kind} id={step.node} />;
  const node = walk.byId[step.node];
  const spec = ops[node.op];
  return step.kind === "forward" ? (
    <ForwardCard node={node} spec={spec} position={position} />
  ) : (
    <BackwardCard node={node} spec={spec} position={position} />
  );
}

/** Which parameters these numbers come from. */
function WeightsLine() {
  const run = useClassroom((s) => s.result?.run ?? null);
  const seed = useClassroom((s) => s.seed);
  return (
    <p
      className="cx-weights-used"
      data-testid="explain-card-weights"
      data-run={run?.id}
      data-step={run?.step}
    >
      {run ? (
        <>
          With the <b>trained weights</b> of run <code>{shortId(run.id)}</code> at step {run.step}
          {Object.keys(run.normalized).length > 0 &&
            ", the sample normalised like its training data"}
          .
        </>
      ) : (
        <>
          With the <b>initial weights</b> (seed {seed}).
        </>
      )}
    </p>
  );
}

/** The raw sample, normalised like the run's training data before it entered the graph. */
function NormalizedNote({ node }: { node: ExplainNode }) {
  const run = useClassroom((s) => s.result?.run ?? null);
  const raw = useClassroom((s) => s.result?.inputs[node.id]);
  const t = run?.normalized[node.id];
  if (!run || !t) return null;
  const sample = Array.isArray(raw) ? raw[0] : raw;
  return (
    <div
      className="cx-own cx-normalized"
      data-testid="explain-normalized"
      data-mean={JSON.stringify(t.mean)}
      data-std={JSON.stringify(t.std)}
    >
      <span className="muted">
        normalised like the training data of run {shortId(run.id)}: (raw − mean) / std, per feature
      </span>
      <Tex
        tex={`\\begin{aligned}x_{\\text{raw}} &= ${texValue(sample)}\\\\ \\mu &= ${texValue(t.mean)}\\\\ \\sigma &= ${texValue(t.std)}\\end{aligned}`}
        display
      />
    </div>
  );
}

function Head(props: { phase: string; node: ExplainNode; spec: OpSpec | undefined }) {
  const { phase, node, spec } = props;
  const wires = wiring(node);
  return (
    <header className="cx-card-head">
      <span className={`cx-phase is-${phase}`}>{phase}</span>
      <b>{spec?.label ?? node.op}</b> <code>{node.id}</code>
      {wires && <span className="muted cx-wires">{wires}</span>}
    </header>
  );
}

function ForwardCard(props: { node: ExplainNode; spec: OpSpec | undefined; position: number }) {
  const { node, spec } = props;
  const result = useClassroom((s) => s.result);
  const lastCost = useClassroom((s) => {
    const costs = s.result?.nodes.filter((n) => n.category === "cost") ?? [];
    return costs.length > 0 && costs[costs.length - 1].id === node.id;
  });
  if (!result) return null;
  const value = node.outputs[0]?.value;
  return (
    <section
      className="cx-card"
      data-testid="explain-card"
      data-phase="forward"
      data-node={node.id}
      data-value={JSON.stringify(value)}
    >
      <Head phase="forward" node={node} spec={spec} />
      <Inside step={{ kind: "forward", node: node.id }} />
      <NormalizedNote node={node} />
      {spec?.formula.forward && (
        <div className="cx-own">
          <span className="muted">the block's rule</span>
          <Tex tex={spec.formula.forward} display testid="explain-op-forward" />
        </div>
      )}
      <Lines lines={forwardLines(node, spec, result)} testid="explain-forward-lines" />
      {lastCost && result.loss !== null && (
        <p className="cx-loss" data-testid="explain-loss" data-value={result.loss}>
          <Tex tex={`C = \\textstyle\\sum \\text{costs} = ${texNumber(result.loss)}`} />
          <span className="muted"> — with one sample, the loss L is C.</span>
        </p>
      )}
    </section>
  );
}

function BackwardCard(props: { node: ExplainNode; spec: OpSpec | undefined; position: number }) {
  const { node, spec } = props;
  const result = useClassroom((s) => s.result);
  const walk = useClassroom((s) => s.walk);
  if (!result || !walk) return null;
  const grad = node.outputs[0]?.grad;
  const rules = ruleLines(node, spec, result);
  return (
    <section
      className="cx-card"
      data-testid="explain-card"
      data-phase="backward"
      data-node={node.id}
      data-grad={JSON.stringify(grad ?? null)}
    >
      <Head phase="backward" node={node} spec={spec} />
      <Inside step={{ kind: "backward", node: node.id }} />
      <Lines lines={incomingLines(node, spec, walk.byId, walk)} testid="explain-incoming" />
      {rules.length > 0 ? (
        <>
          {spec?.formula.backward && (
            <div className="cx-own">
              <span className="muted">the block's local rule (vector-Jacobian product)</span>
              <Tex tex={spec.formula.backward} display testid="explain-op-backward" />
            </div>
          )}
          <Lines lines={rules} testid="explain-rules" />
          <JacobianView node={node.id} />
        </>
      ) : (
        <p className="muted">
          {node.category === "variable"
            ? "Data: its gradient shows how the cost depends on it; nothing upstream learns from it."
            : "Nothing to send further back."}
        </p>
      )}
    </section>
  );
}

function UpdateCard() {
  const result = useClassroom((s) => s.result);
  const param = useClassroom((s) => s.param);
  const lr = useClassroom((s) => s.lr);
  const setParam = useClassroom((s) => s.setParam);
  const setLr = useClassroom((s) => s.setLr);
  const follower = useClassroom((s) => s.role === "follower");
  if (!result) return null;
  const keys = paramKeys(result);
  const line = param ? updateLine(result, param, lr) : null;
  return (
    <section className="cx-card" data-testid="explain-card" data-phase="update">
      <header className="cx-card-head">
        <span className="cx-phase is-update">update</span>
        <b>One step of gradient descent</b>
      </header>
      <div className="cx-update-form">
        <label>
          parameter{" "}
          <select
            data-testid="update-param"
            value={param ?? ""}
            disabled={follower}
            onChange={(e) => setParam(e.target.value)}
          >
            {keys.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        <label>
          η{" "}
          <input
            type="number"
            step="0.01"
            data-testid="update-lr"
            value={lr}
            disabled={follower}
            onChange={(e) => setLr(Number(e.target.value))}
          />
        </label>
      </div>
      {line && <Lines lines={[line]} testid="update-lines" />}
      <p className="muted">
        With one sample, ∂L/∂w is this sample's ∂C/∂w; a batch averages it over its samples.
      </p>
    </section>
  );
}
