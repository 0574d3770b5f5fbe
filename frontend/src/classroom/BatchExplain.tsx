import { useState } from "react";
import { classroomApi, describeError } from "./api";
import {
  batchFromRows,
  MAX_BATCH,
  type Method,
  masks,
  paramKeysOf,
  perSample,
  updateSettings,
} from "./batch";
import { docNow, useClassroom } from "./store";
import { Tex } from "./Tex";
import { compact, texNumber, texValue } from "./tex";
import type { ExplainResult, Tensor } from "./types";

type Update = {
  method: Method;
  formula: string;
  lr: number;
  params: Record<string, Record<string, { before: Tensor; grad: Tensor; after: Tensor }>>;
};

/**
 * Explain on a mini-batch: P dataset rows from the current one, each sample's cost C_p, the
 * loss L = (1/P) Σ C_p, each sample's gradient and their mean, then one update of the chosen
 * optimiser with its formula and numbers. Dropout draws its mask in training mode.
 */
export function BatchExplain() {
  const feeds = useClassroom((s) => s.feeds);
  const rows = useClassroom((s) => s.rows);
  const row = useClassroom((s) => s.row);
  const seed = useClassroom((s) => s.seed);
  const run = useClassroom((s) => s.result?.run ?? null);
  const [P, setP] = useState(4);
  const [method, setMethod] = useState<Method>("sgd");
  const [lr, setLr] = useState(0.1);
  const [training, setTraining] = useState(false);
  const [state, setState] = useState<{ result?: ExplainResult; error?: string; busy?: boolean }>(
    {},
  );
  const [param, setParam] = useState<string | null>(null);
  if (feeds.length === 0) return null;
  const go = async () => {
    if (!rows) {
      setState({ error: "Take the sample from a dataset (above) to draw a mini-batch from it." });
      return;
    }
    const made = batchFromRows(feeds, rows, row, P);
    if (made.error || !made.inputs) {
      setState({ error: made.error });
      return;
    }
    setState({ busy: true });
    try {
      const result = await classroomApi.explainBatch(
        docNow(useClassroom.getState()),
        made.inputs,
        seed,
        run ? { id: run.id, step: run.step } : null,
        { training, update: updateSettings(method, lr) },
      );
      setState({ result });
    } catch (err) {
      setState({ error: describeError(err) });
    }
  };
  const result = state.result;
  return (
    <section className="cx-card cx-batch" data-testid="batch-explain">
      <header className="cx-card-head">
        <span className="cx-phase is-update">batch</span>
        <b>A mini-batch of P samples</b>
      </header>
      <div className="cx-update-form">
        <label>
          P{" "}
          <input
            type="number"
            min={1}
            max={MAX_BATCH}
            value={P}
            data-testid="batch-size"
            onChange={(e) => setP(Math.max(1, Math.min(MAX_BATCH, Number(e.target.value) || 1)))}
          />
        </label>
        <label>
          update{" "}
          <select
            value={method}
            data-testid="batch-method"
            onChange={(e) => setMethod(e.target.value as Method)}
          >
            <option value="sgd">SGD</option>
            <option value="momentum">momentum</option>
            <option value="nesterov">Nesterov</option>
            <option value="adam">Adam</option>
          </select>
        </label>
        <label>
          η{" "}
          <input
            type="number"
            step="0.01"
            value={lr}
            data-testid="batch-lr"
            onChange={(e) => setLr(Number(e.target.value))}
          />
        </label>
        <label title="Dropout draws its mask, as in a training step">
          <input
            type="checkbox"
            checked={training}
            data-testid="batch-training"
            onChange={(e) => setTraining(e.target.checked)}
          />{" "}
          training mode
        </label>
        <button
          type="button"
          className="btn small"
          data-testid="batch-run"
          disabled={state.busy}
          onClick={() => void go()}
        >
          {state.busy ? "Computing…" : "Explain the batch"}
        </button>
      </div>
      {state.error && (
        <p className="error-text" data-testid="batch-error">
          {state.error}
        </p>
      )}
      {result && <BatchResult result={result} param={param} setParam={setParam} />}
    </section>
  );
}

function BatchResult(props: {
  result: ExplainResult;
  param: string | null;
  setParam: (p: string) => void;
}) {
  const { result, setParam } = props;
  const keys = paramKeysOf(result);
  const key = props.param && keys.includes(props.param) ? props.param : (keys[0] ?? null);
  const grads = key ? perSample(result, key) : null;
  const costs = (result as { costs?: (number | null)[] }).costs ?? [];
  const update = (result as { update?: Update | null }).update ?? null;
  const dropped = masks(result);
  const P = costs.length;
  const [nid, name] = key
    ? [key.slice(0, key.lastIndexOf(".")), key.slice(key.lastIndexOf(".") + 1)]
    : ["", ""];
  const up = key && update ? update.params[nid]?.[name] : undefined;
  return (
    <div
      className="cx-batch-result"
      data-testid="batch-result"
      data-p={P}
      data-loss={result.loss ?? ""}
    >
      <table className="cx-batch-costs" data-testid="batch-costs">
        <thead>
          <tr>
            <th>p</th>
            <th>
              <Tex tex="C_p" />
            </th>
          </tr>
        </thead>
        <tbody>
          {costs.map((c, p) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: samples are positional
            <tr key={p}>
              <td>{p + 1}</td>
              <td>{c === null ? "—" : compact(c)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {result.loss === null ? (
        <p className="muted">The graph has no cost: there is no loss to average.</p>
      ) : (
        <Tex
          display
          testid="batch-loss"
          tex={`L = \\frac{1}{${P}} \\sum_{p=1}^{${P}} C_p = ${texNumber(result.loss)}`}
        />
      )}
      {Object.entries(dropped).map(([id, m]) => (
        <p key={id} className="cx-batch-mask" data-testid={`batch-mask-${id}`}>
          dropout <code>{id}</code>, sample 1: <Tex tex={`m = ${texValue(m)}`} />
        </p>
      ))}
      {key && grads && (
        <>
          <label>
            parameter{" "}
            <select
              value={key}
              data-testid="batch-param"
              onChange={(e) => setParam(e.target.value)}
            >
              {keys.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          </label>
          <ol className="cx-batch-grads" data-testid="batch-grads">
            {grads.rows.map((g, p) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: samples are positional
              <li key={p}>
                <Tex tex={`\\frac{\\partial C_{${p + 1}}}{\\partial w} = ${texValue(g)}`} />
              </li>
            ))}
          </ol>
          <Tex
            display
            testid="batch-mean-grad"
            tex={`\\frac{\\partial L}{\\partial w} = \\frac{1}{${P}} \\sum_p \\frac{\\partial C_p}{\\partial w} = ${texValue(grads.mean)}`}
          />
        </>
      )}
      {update && up && (
        <div className="cx-own" data-testid="batch-update" data-method={update.method}>
          <span className="muted">
            one {update.method} step (η = {update.lr}), from a fresh state
          </span>
          <Tex display tex={update.formula} />
          <Tex
            display
            tex={`w = ${texValue(up.before)} \\;\\rightarrow\\; ${texValue(up.after)}`}
          />
        </div>
      )}
    </div>
  );
}
