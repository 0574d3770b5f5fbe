import { useEffect, useState } from "react";
import type { OpSpec } from "../api/types";
import { formatRef } from "../lib/doc";
import { moduleOfOp } from "../lib/modules";
import { formatShape, notationOf } from "../lib/notation";
import { RawUnits } from "../smart/RawUnits";
import { AutoNotes, FixButtons } from "../smart/SmartNotes";
import { selectSelectedIds, useEditor } from "../store/editor";
import { WeightHeatmap } from "../train/WeightHeatmap";
import { Formula } from "./Formula";
import { Glyph } from "./Glyph";
import { ParamField } from "./ParamField";
import { plainMessage } from "./paramCodec";

export function Inspector() {
  const selected = useEditor(selectSelectedIds);
  const ids = selected ? selected.split(",") : [];
  if (ids.length === 1) return <NodeInspector key={ids[0]} id={ids[0]} />;
  if (ids.length > 1) {
    return (
      <div className="inspector-inner" data-testid="inspector-multi">
        <h2>{ids.length} nodes selected</h2>
        <p className="muted">
          Drag to move them together; Ctrl/⌘+C, Ctrl/⌘+D or Delete act on all.
        </p>
      </div>
    );
  }
  return <GraphInspector />;
}

function NodeInspector({ id }: { id: string }) {
  const node = useEditor((s) => s.nodes.find((n) => n.id === id));
  const spec = useEditor((s) => (node ? s.ops[node.data.op] : undefined));
  const errors = useEditor((s) => s.validation.byNode[id]);
  const deleteSelected = useEditor((s) => s.deleteSelected);
  if (!node) return null;
  const paramNames = new Set(spec?.params.map((p) => p.name));
  const general = (errors ?? []).filter((e) => !(e.port && paramNames.has(e.port)));
  if (!spec) {
    return (
      <div className="inspector-inner" data-testid="inspector-node">
        <h2>{node.data.op}</h2>
        <p className="error-text">Unknown op “{node.data.op}”: the server does not offer it.</p>
      </div>
    );
  }
  return (
    <div className="inspector-inner" data-testid="inspector-node">
      <header className="inspector-head">
        <Glyph notation={notationOf(spec)} />
        <div>
          <h2>{spec.label}</h2>
          <div className="muted">
            {spec.name} · {spec.category}
            {!spec.differentiable && " · not differentiable"}
          </div>
        </div>
      </header>
      <IdField id={id} />
      {moduleOfOp(node.data.op) !== null && (
        <ModuleField id={id} module={moduleOfOp(node.data.op) ?? ""} />
      )}
      <AutoNotes id={id} />
      <FixButtons id={id} />
      {/* A problem with a param shows at its field (ParamField); the rest, once, here. */}
      {general.length ? (
        <ul className="error-list" data-testid="inspector-errors">
          {general.map((e) => (
            <li key={`${e.code}-${e.port ?? ""}-${e.message}`}>
              {plainMessage(e.message)} <code className="error-code">{e.code}</code>
            </li>
          ))}
        </ul>
      ) : null}
      {spec.doc && <p className="doc">{spec.doc}</p>}
      {spec.params.length > 0 && (
        <section>
          <h3>Parameters</h3>
          {spec.params.map((p) => (
            <ParamField
              key={p.name}
              nodeId={id}
              spec={p}
              value={node.data.params[p.name]}
              serverError={errors?.find((e) => e.port === p.name)}
            />
          ))}
        </section>
      )}
      <Ports id={id} spec={spec} />
      <WeightHeatmap id={id} />
      <RawUnits id={id} />
      {spec.parameters.length > 0 && (
        <section>
          <h3>Trainable</h3>
          <ul className="plain">
            {spec.parameters.map((p) => (
              <li key={p.name}>
                <b>{p.name}</b> <span className="muted">{p.shape_rule}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
      {spec.buffers && spec.buffers.length > 0 && (
        <section data-testid="inspector-buffers">
          <h3>Running statistics</h3>
          <p className="muted">Kept while training, used in evaluation; not trained.</p>
          <ul className="plain">
            {spec.buffers.map((b) => (
              <li key={b.name} title={b.doc}>
                <b>{b.name}</b> <span className="muted">{b.shape_rule}</span>{" "}
                <span className="muted">starts at {b.fill}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
      {(spec.formula.forward || spec.formula.backward) && (
        <section>
          <h3>Forward</h3>
          {spec.formula.forward && <Formula tex={spec.formula.forward} testid="formula-forward" />}
          {spec.formula.backward && (
            <>
              <h3>Derivative</h3>
              <Formula tex={spec.formula.backward} testid="formula-backward" />
            </>
          )}
        </section>
      )}
      <button
        type="button"
        className="btn danger"
        data-testid="inspector-delete"
        onClick={deleteSelected}
      >
        Delete node
      </button>
    </div>
  );
}

function IdField({ id }: { id: string }) {
  const renameNode = useEditor((s) => s.renameNode);
  const selectOnly = useEditor((s) => s.selectOnly);
  const [text, setText] = useState(id);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => setText(id), [id]);
  const apply = () => {
    const err = renameNode(id, text.trim());
    setError(err);
    if (!err) selectOnly([text.trim()]);
  };
  return (
    <div className="field">
      <label htmlFor="inspector-id">id</label>
      <input
        id="inspector-id"
        className={error ? "nodrag is-invalid" : "nodrag"}
        data-testid="inspector-id"
        value={text}
        onChange={(e) => setText(e.target.value)}
        onBlur={apply}
        onKeyDown={(e) => e.key === "Enter" && apply()}
      />
      {error && <div className="field-hint">{error}</div>}
    </div>
  );
}

/** An instance's module: its name (renaming it renames it for every instance), and the way
 * into its definition. */
function ModuleField({ id, module }: { id: string; module: string }) {
  const renameModule = useEditor((s) => s.renameModule);
  const enterModule = useEditor((s) => s.enterModule);
  const unpack = () => setError(useEditor.getState().unpack(id));
  const [text, setText] = useState(module);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => setText(module), [module]);
  const apply = () => setError(renameModule(module, text.trim()));
  return (
    <div className="field">
      <label htmlFor="inspector-module">module</label>
      <input
        id="inspector-module"
        className={error ? "nodrag is-invalid" : "nodrag"}
        data-testid="inspector-module"
        value={text}
        onChange={(e) => setText(e.target.value)}
        onBlur={apply}
        onKeyDown={(e) => e.key === "Enter" && apply()}
      />
      {error && <div className="field-hint">{error}</div>}
      <button
        type="button"
        className="btn small"
        data-testid="inspector-edit-module"
        onClick={() => enterModule(module)}
      >
        Edit module
      </button>
      <button
        type="button"
        className="btn small"
        data-testid="inspector-unpack"
        title="Unpack: this block back into plain blocks (Ctrl+Shift+G)"
        onClick={unpack}
      >
        Unpack
      </button>
    </div>
  );
}

function Ports({ id, spec }: { id: string; spec: OpSpec }) {
  const edges = useEditor((s) => s.edges);
  const shapes = useEditor((s) => s.validation.shapes);
  const incoming = new Map(edges.filter((e) => e.target === id).map((e) => [e.targetHandle, e]));
  const sourceRef = (node: string, port: string | null | undefined) => {
    const s = useEditor.getState();
    const op = s.nodes.find((n) => n.id === node)?.data.op;
    return formatRef(node, port, op ? s.ops[op] : undefined);
  };
  const shapeOf = (node: string, port: string | null | undefined) =>
    shapes[`${node}:${port}`] ?? shapes[node];
  return (
    <section>
      <h3>Ports</h3>
      <table className="ports">
        <tbody>
          {spec.inputs.map((p) => {
            const e = incoming.get(p.name);
            return (
              <tr key={`in-${p.name}`} title={p.doc}>
                <td>in</td>
                <td>
                  <b>{p.name}</b>
                </td>
                <td>
                  {e ? (
                    `← ${sourceRef(e.source, e.sourceHandle)}`
                  ) : (
                    <span className="error-text">unconnected</span>
                  )}
                </td>
                <td className="muted">{e ? formatShape(shapeOf(e.source, e.sourceHandle)) : ""}</td>
              </tr>
            );
          })}
          {spec.outputs.map((p) => (
            <tr key={`out-${p.name}`}>
              <td>out</td>
              <td>
                <b>{p.name}</b>
              </td>
              <td />
              <td className="muted" data-testid={`inspector-shape-${p.name}`}>
                {formatShape(shapeOf(id, p.name))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function GraphInspector() {
  // the document's nodes: not the blocks drawn inside open module instances
  const count = useEditor((s) => s.nodes.filter((n) => !n.parentId).length);
  // (an inner block's id is `b1/l`: ids of the document's own never hold '/')
  const edgeCount = useEditor((s) => s.edges.filter((e) => !e.target.includes("/")).length);
  const errors = useEditor((s) => s.validation.errors);
  const selectOnly = useEditor((s) => s.selectOnly);
  const description = useEditor((s) => s.description);
  const setDescription = useEditor((s) => s.setDescription);
  return (
    <div className="inspector-inner" data-testid="inspector-graph">
      <h2>Graph</h2>
      <p className="muted">
        {count} nodes · {edgeCount} edges
      </p>
      <textarea
        className="description nodrag"
        data-testid="graph-description"
        aria-label="Description"
        placeholder="Describe this graph…"
        value={description}
        onChange={(e) => setDescription(e.target.value)}
      />
      {errors.length > 0 && (
        <section>
          <h3>Problems</h3>
          <ul className="error-list" data-testid="graph-errors">
            {errors.map((e) => (
              <li key={`${e.code}-${(e.nodes ?? []).join()}-${e.port ?? ""}-${e.message}`}>
                <button
                  type="button"
                  className="linklike"
                  onClick={() => selectOnly(e.nodes ?? [])}
                >
                  {e.message} <code className="error-code">{e.code}</code>
                </button>
              </li>
            ))}
          </ul>
        </section>
      )}
      <FixButtons />
      <p className="muted">
        Select a node to see its parameters, documentation and formulas. Press <kbd>?</kbd> for
        shortcuts.
      </p>
    </div>
  );
}
