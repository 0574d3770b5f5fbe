import { useEffect, useState } from "react";
import { classroomApi, describeError } from "./api";
import {
  cellText,
  describe,
  type JacobianMatrix,
  type JacobianResult,
  jacobianSymbol,
  MAX_NUMBERED,
  shades,
  vjpError,
} from "./jacobian";
import { docNow, useClassroom } from "./store";
import { Tex } from "./Tex";

/**
 * Both Jacobians of the block at the sample explained (the notes' ∂z_out/∂z_in and ∂z_out/∂w),
 * fetched on demand: backprop never builds them, so neither does the card until asked.
 */
export function JacobianView({ node }: { node: string }) {
  const [open, setOpen] = useState(false);
  const [state, setState] = useState<{ data?: JacobianResult; error?: string; loading?: boolean }>(
    {},
  );
  const result = useClassroom((s) => s.result);
  const seed = useClassroom((s) => s.seed);
  // a new node, sample or set of weights: the matrices no longer describe it
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset on these changes only
  useEffect(() => setState({}), [node, result]);
  useEffect(() => {
    if (!open || !result || state.data || state.error || state.loading) return;
    setState({ loading: true });
    const run = result.run ? { id: result.run.id, step: result.run.step } : null;
    classroomApi
      .jacobian(docNow(useClassroom.getState()), node, result.inputs, seed, run)
      .then((data) => setState({ data }))
      .catch((err) => setState({ error: describeError(err) }));
  }, [open, result, node, seed, state]);
  return (
    <div className="cx-jacobian" data-testid="jacobian-view" data-node={node}>
      <button
        type="button"
        className="btn small cx-jacobian-toggle"
        data-testid="jacobian-toggle"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        {open ? "Hide" : "Show"} both Jacobians of this block
      </button>
      {open && state.loading && <p className="muted">computing…</p>}
      {open && state.error && (
        <p className="cx-error" data-testid="jacobian-error">
          {state.error}
        </p>
      )}
      {open && state.data && <Matrices data={state.data} />}
    </div>
  );
}

function Matrices({ data }: { data: JacobianResult }) {
  const entries = Object.entries(data.wrt);
  if (entries.length === 0) {
    return <p className="muted">No Jacobian: nothing differentiable flows into this block.</p>;
  }
  return (
    <div className="cx-jacobians" data-testid="jacobians" data-d-out={data.d_out}>
      {entries.map(([name, m]) => (
        <Matrix key={name} name={name} m={m} g={data.g} />
      ))}
      <p className="muted">
        Rows: the block's {data.d_out} output entries; columns: the entries of its input or
        parameter. The backward step never builds these: it computes g·J directly.
      </p>
    </div>
  );
}

function Matrix({ name, m, g }: { name: string; m: JacobianMatrix; g: number[] }) {
  const [rows, cols] = m.shape;
  const numbered = rows * cols <= MAX_NUMBERED;
  const err = vjpError(g, m);
  const ok = err < 1e-9;
  const shade = shades(m.value);
  return (
    <figure
      className="cx-jmatrix"
      data-testid={`jacobian-${name}`}
      data-shape={JSON.stringify(m.shape)}
      data-diagonal={m.diagonal}
      data-kind={m.kind}
    >
      <figcaption>
        <Tex tex={jacobianSymbol(name, m.kind)} /> <span className="muted">{describe(m)}</span>
      </figcaption>
      <table className={`cx-jgrid${numbered ? "" : " is-dense"}`}>
        <tbody>
          {m.value.map((row, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: rows are positional
            <tr key={i}>
              {row.map((v, j) => (
                <td
                  // biome-ignore lint/suspicious/noArrayIndexKey: cells are positional
                  key={j}
                  className={i === j ? "is-diag" : undefined}
                  style={{ background: cellColour(shade[i][j]) }}
                  title={`∂z${i}/∂${name}${j} = ${cellText(v)}`}
                >
                  {numbered ? cellText(v) : ""}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      <p
        className={`cx-jcheck ${ok ? "is-ok" : "is-bad"}`}
        data-testid={`jacobian-check-${name}`}
        data-ok={ok}
      >
        g·J {ok ? "=" : "≠"} the VJP of the backward step {ok ? "✓" : `✗ (${err.toExponential(1)})`}
      </p>
    </figure>
  );
}

/** Blue for positive, red for negative, white for zero: the diagonal of a pointwise block shows. */
function cellColour(s: number): string {
  const a = Math.min(1, Math.abs(s)) * 0.55;
  return s >= 0 ? `rgba(60, 120, 220, ${a})` : `rgba(220, 70, 60, ${a})`;
}
