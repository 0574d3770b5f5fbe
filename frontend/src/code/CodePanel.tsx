// The code beside the drawing: the PyTorch module of the graph being drawn (the exporter's
// own output), refreshed as the graph changes, the selected node's line highlighted.
import { useEffect, useRef, useState } from "react";
import { requestExport } from "../panels/exportApi";
import { selectSelectedIds, useEditor } from "../store/editor";
import { lineOfNode, withoutState } from "./lines";

const DEBOUNCE_MS = 400;

export function CodePanel() {
  const revision = useEditor((s) => s.revision);
  const opsReady = useEditor((s) => s.opsStatus === "ready");
  const selected = useEditor(selectSelectedIds);
  const [source, setSource] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const highlighted = useRef<HTMLElement | null>(null);

  // biome-ignore lint/correctness/useExhaustiveDependencies: refetched when the document (revision) changes
  useEffect(() => {
    if (!opsReady) return;
    const doc = useEditor.getState().toDoc();
    if (!doc.nodes.length) {
      setSource(null);
      setError("Draw a graph: its PyTorch module appears here.");
      return;
    }
    let alive = true;
    const t = setTimeout(() => {
      requestExport("pytorch", { graph: doc })
        .then(({ blob }) => blob.text())
        .then((text) => {
          if (!alive) return;
          setSource(text);
          setError(null);
        })
        .catch(
          (err: unknown) => alive && setError(err instanceof Error ? err.message : String(err)),
        );
    }, DEBOUNCE_MS);
    return () => {
      alive = false;
      clearTimeout(t);
    };
  }, [revision, opsReady]);

  const shown = source ? withoutState(source).code : "";
  const lines = shown.split("\n");
  const node = selected && !selected.includes(",") ? selected : null;
  const mark = lineOfNode(lines, node);

  // biome-ignore lint/correctness/useExhaustiveDependencies: scroll when the marked line moves
  useEffect(() => {
    highlighted.current?.scrollIntoView?.({ block: "nearest" });
  }, [mark, shown]);

  const copy = async () => {
    if (!source) return;
    await navigator.clipboard?.writeText(source).catch(() => undefined);
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };

  return (
    <div className="code-panel" data-testid="code-panel">
      <header className="code-head">
        <h2>PyTorch</h2>
        <button
          type="button"
          className="btn"
          data-testid="code-copy"
          disabled={!source}
          onClick={() => void copy()}
        >
          {copied ? "Copied" : "Copy"}
        </button>
      </header>
      {error && (
        <p className={source ? "error-text" : "muted"} data-testid="code-error">
          {error}
        </p>
      )}
      {source && (
        <div className="code-scroll">
          {/* biome-ignore lint/a11y/noNoninteractiveTabindex: the listing scrolls; keyboard users must reach it */}
          <pre className="code-listing" data-testid="code-listing" tabIndex={0}>
            {lines.map((l, i) => (
              <code
                // biome-ignore lint/suspicious/noArrayIndexKey: a line's place is its identity
                key={i}
                ref={
                  i === mark
                    ? (el) => {
                        highlighted.current = el;
                      }
                    : undefined
                }
                className={i === mark ? "code-line is-marked" : "code-line"}
                data-marked={i === mark ? node : undefined}
              >
                {l || " "}
                {"\n"}
              </code>
            ))}
          </pre>
        </div>
      )}
    </div>
  );
}
