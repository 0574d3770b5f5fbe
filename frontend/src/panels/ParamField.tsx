import { useEffect, useRef, useState } from "react";
import type { ParamSpec, ParamValue } from "../api/types";
import { useEditor } from "../store/editor";
import { formatParam, parseParam, plainMessage, rangeHint } from "./paramCodec";

/** One widget per param, chosen by the spec's type: checkbox, select, number or text. */
export function ParamField({
  nodeId,
  spec,
  value,
  serverError,
}: {
  nodeId: string;
  spec: ParamSpec;
  value: ParamValue;
  /** the validation problem naming this param, if any */
  serverError?: { code: string; message: string };
}) {
  const setParam = useEditor((s) => s.setParam);
  const testid = `param-${spec.name}`;
  const id = `param-${nodeId}-${spec.name}`;
  const set = (v: ParamValue | undefined) => setParam(nodeId, spec.name, v);

  let control: React.ReactNode;
  if (spec.type === "bool") {
    control = (
      <input
        id={id}
        type="checkbox"
        className="nodrag"
        data-testid={testid}
        checked={value === undefined ? Boolean(spec.default) : Boolean(value)}
        onChange={(e) => set(e.target.checked)}
      />
    );
  } else if (spec.choices && spec.choices.length > 0) {
    const current = value ?? spec.default;
    control = (
      <select
        id={id}
        className="nodrag"
        data-testid={testid}
        value={current === undefined || current === null ? "" : String(current)}
        onChange={(e) =>
          set(spec.choices?.find((c) => String(c) === e.target.value) ?? e.target.value)
        }
      >
        {current === undefined && <option value="">—</option>}
        {spec.choices.map((c) => (
          <option key={String(c)} value={String(c)}>
            {String(c)}
          </option>
        ))}
      </select>
    );
  } else {
    control = <TextParam id={id} testid={testid} spec={spec} value={value} onCommit={set} />;
  }

  const hint = rangeHint(spec, value);
  return (
    <div className={serverError ? "field has-error" : "field"} data-testid={`field-${spec.name}`}>
      <label htmlFor={id} title={spec.doc}>
        <span>
          {spec.name}
          {spec.required && <span className="field-required"> *</span>}
        </span>
        <span className="field-type">{spec.type}</span>
      </label>
      {control}
      {/* One message: the server's once it has answered, the local range check until then. */}
      {serverError ? (
        <div className="field-hint">
          <span data-testid={`param-error-${spec.name}`}>
            {plainMessage(serverError.message, spec.name)}
          </span>{" "}
          <code className="error-code">{serverError.code}</code>
        </div>
      ) : (
        hint && <div className="field-hint">{hint}</div>
      )}
      {spec.doc && <div className="field-doc">{spec.doc}</div>}
    </div>
  );
}

function TextParam(props: {
  id: string;
  testid: string;
  spec: ParamSpec;
  value: ParamValue;
  onCommit: (v: ParamValue | undefined) => void;
}) {
  const { id, testid, spec, value, onCommit } = props;
  const [text, setText] = useState(() => formatParam(value));
  const [error, setError] = useState<string | null>(null);
  const committed = useRef(value);

  // Follow changes made elsewhere (undo, paste), but not the echo of our own edits.
  useEffect(() => {
    if (JSON.stringify(value) !== JSON.stringify(committed.current)) {
      committed.current = value;
      setText(formatParam(value));
      setError(null);
    }
  }, [value]);

  const numeric = spec.type === "int" || spec.type === "float";
  return (
    <>
      <input
        id={id}
        className={error ? "nodrag is-invalid" : "nodrag"}
        data-testid={testid}
        type={numeric ? "number" : "text"}
        step={spec.type === "int" ? 1 : "any"}
        min={spec.min ?? undefined}
        max={spec.max ?? undefined}
        placeholder={
          spec.default === undefined || spec.default === null
            ? spec.required === false
              ? "none"
              : "required"
            : formatParam(spec.default)
        }
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          const parsed = parseParam(spec, e.target.value);
          if (parsed.ok) {
            setError(null);
            committed.current = parsed.value;
            onCommit(parsed.value);
          } else {
            setError(parsed.message);
          }
        }}
      />
      {error && <div className="field-hint">{error}</div>}
    </>
  );
}
