import type { Line } from "./lines";
import { Tex } from "./Tex";

/** A card's lines: what each says in words, then its formula. */
export function Lines({ lines, testid }: { lines: Line[]; testid: string }) {
  return (
    <ol className="cx-lines" data-testid={testid}>
      {lines.map((l, i) => (
        <li
          // biome-ignore lint/suspicious/noArrayIndexKey: lines are positional
          key={i}
          className={`cx-line is-${l.kind ?? "rule"}`}
          data-value={l.value === undefined ? undefined : JSON.stringify(l.value)}
        >
          <span className="cx-line-label">{l.label}</span>
          <Tex tex={l.tex} display />
        </li>
      ))}
    </ol>
  );
}
