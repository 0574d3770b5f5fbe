// Next to a block's learned parameters: when the run standardised its features, say that the
// numbers are in normalised units, and offer them in the data's own units.
import { useState } from "react";
import { fetchRunState } from "../panels/exportApi";
import { useEditor } from "../store/editor";
import { fmt } from "../train/draw";
import { useTrain } from "../train/store";
import { type Normalization, toRawUnits } from "./rawUnits";

type Raw = { W: number[][]; b: number[]; step: number } | { note: string };

export function RawUnits({ id }: { id: string }) {
  const run = useTrain((s) => s.run);
  // the input node this block reads directly, if any
  const inputId = useEditor((s) => {
    const e = s.edges.find((x) => x.target === id && x.targetHandle === "x");
    const src = e ? s.nodes.find((n) => n.id === e.source) : undefined;
    return src && s.ops[src.data.op]?.source === "input" ? src.id : null;
  });
  const hasW = useEditor((s) => {
    const n = s.nodes.find((m) => m.id === id);
    return !!n && !!s.ops[n.data.op]?.parameters.some((p) => p.name === "W");
  });
  const [raw, setRaw] = useState<Raw | null>(null);
  if (!run || !inputId || !hasW || !run.dataset?.normalize) return null;

  const show = async () => {
    try {
      const got = await fetchRunState(run.id);
      const norm = (got as { normalized?: Record<string, Normalization> }).normalized?.[inputId];
      const p = got.state[id] as { W?: number[][]; b?: number[] } | undefined;
      if (!p?.W) return setRaw({ note: "No learned parameters yet." });
      if (!norm) return setRaw({ note: "This run fed the features as they are: raw units." });
      setRaw({ ...toRawUnits(p.W, p.b, norm), step: got.step });
    } catch (err) {
      setRaw({ note: `Could not read the run's parameters: ${String(err)}` });
    }
  };

  return (
    <section className="raw-units" data-testid={`raw-units-${id}`}>
      <p className="muted">
        Learned on normalised features (each x standardised to mean 0, std 1): W and b are in
        normalised units.{" "}
        <button
          type="button"
          className="linklike"
          data-testid="raw-units-show"
          onClick={() => void show()}
        >
          show in raw units
        </button>
      </p>
      {raw && "note" in raw && <p className="muted">{raw.note}</p>}
      {raw && "W" in raw && (
        <table className="plain raw-table" data-testid="raw-units-table">
          <caption className="muted">in the data's units, step {raw.step}</caption>
          <tbody>
            {raw.W.map((row, o) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: one row per output unit
              <tr key={o}>
                <th scope="row">unit {o}</th>
                <td data-testid={`raw-W-${o}`}>W = [{row.map((w) => fmt(w)).join(", ")}]</td>
                <td data-testid={`raw-b-${o}`}>b = {fmt(raw.b[o])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
