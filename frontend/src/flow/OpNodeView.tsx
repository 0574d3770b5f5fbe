import { Handle, type NodeProps, Position } from "@xyflow/react";
import { memo, useEffect, useRef } from "react";
import type { ApiErrorBody, OpSpec, ParamValue } from "../api/types";
import { NodeExplain } from "../classroom/NodeExplain";
import type { OpNode } from "../lib/doc";
import { flatOutput, INSTANCE_OP, moduleOfOp } from "../lib/modules";
import { type Notation, notationOf } from "../lib/notation";
import { paramSummary } from "../panels/paramCodec";
import { useEditor } from "../store/editor";
import { useUi } from "../store/ui";
import { NodeLive } from "../train/NodeLive";
import { UnitThumbs } from "../train/UnitThumbs";
import { pickPortFor } from "./PortPicker";

/**
 * The one node component. Everything it draws comes from the op spec: its shape from the
 * notation (category), its ports from inputs/outputs, its parameter chips from `parameters`.
 */
function OpNodeViewImpl({ id, data, selected }: NodeProps<OpNode>) {
  const spec = useEditor((s) => s.ops[data.op]);
  const errors = useEditor((s) => s.validation.byNode[id]);
  const order = useEditor((s) => s.validation.order[id]);
  const showOrder = useUi((s) => s.showOrder);
  const notation = notationOf(spec);
  const inputs = spec?.inputs ?? [];
  const outputs = spec?.outputs ?? [];
  const compact = notation === "observed" || notation === "parameter" || notation === "constant";
  const portError = (port: string) => errors?.find((e) => e.port === port);
  // an instance's live view is its (first) output's, an inner node of the flat graph
  const liveId = useEditor((s) => {
    const module = moduleOfOp(data.op);
    return module === null ? id : (flatOutput(s.modules, id, module) ?? id);
  });
  const module = moduleOfOp(data.op);
  // an open instance is a group: its blocks are nodes of their own, drawn inside it
  const open = useEditor((s) => module !== null && !!s.expanded[id]);

  const classes = ["bp-node", `bp-${notation}`];
  if (open) classes.push("is-group");
  if (selected) classes.push("is-selected");
  if (errors?.length) classes.push("has-error");
  if (!spec) classes.push("is-unknown");

  const self = useRef<HTMLDivElement>(null);
  const spoken = `${spec?.label ?? data.op} ${id}${errors?.length ? `, ${errors.length} problem${errors.length > 1 ? "s" : ""}: ${errors[0].message}` : ""}`;
  useEffect(() => {
    // React Flow's wrapper is what takes focus; it has no name of its own.
    self.current?.closest(".react-flow__node")?.setAttribute("aria-label", spoken);
  }, [spoken]);

  const rows = Math.max(inputs.length, outputs.length, 1);
  // Leave room for the port labels on each side so they never run under the title.
  const side = (ports: { name: string }[]) =>
    14 + Math.max(0, ...ports.map((p) => p.name.length)) * 6;
  const style = compact
    ? undefined
    : {
        minHeight: Math.max(52, rows * 22 + 18),
        paddingLeft: side(inputs),
        paddingRight: side(outputs),
        ...(open ? { width: "100%", height: "100%" } : {}),
      };

  return (
    <div
      ref={self}
      className={classes.join(" ")}
      style={style}
      data-testid={`node-${id}`}
      data-op={module === null ? data.op : INSTANCE_OP}
      data-module={module ?? undefined}
      data-open={module === null ? undefined : open}
      title={spec ? `${spec.label} (${id}): ${spec.doc}` : `unknown op ${data.op}`}
    >
      {showOrder && order !== undefined && (
        <span
          className="bp-order"
          data-testid={`order-${id}`}
          title="Position in the topological order"
        >
          {order}
        </span>
      )}
      {inputs.map((p, i) => (
        <Port
          key={`in-${p.name}`}
          node={id}
          name={p.name}
          kind="in"
          index={i}
          count={inputs.length}
          error={portError(p.name)}
          labelled={!compact || inputs.length > 1}
          doc={p.doc}
          label={"label" in p && p.label ? p.label : undefined}
        />
      ))}
      {outputs.map((p, i) => (
        <Port
          key={`out-${p.name}`}
          node={id}
          name={p.name}
          kind="out"
          index={i}
          count={outputs.length}
          error={portError(p.name)}
          labelled={!compact || outputs.length > 1}
        />
      ))}
      {open ? (
        <div className="bp-group-title">
          <b>{spec?.label ?? data.op}</b> {id}
        </div>
      ) : (
        <Body id={id} notation={notation} spec={spec} op={data.op} params={data.params} />
      )}
      {module !== null && <ModuleButtons id={id} module={module} open={open} />}
      {spec && spec.parameters.length > 0 && notation === "function" && (
        <div className="bp-params" title="Trainable parameters owned by this block">
          {spec.parameters.map((p) => (
            <span key={p.name} className="bp-param-chip" title={p.shape_rule ?? p.name}>
              {p.name}
            </span>
          ))}
        </div>
      )}
      {errors?.length ? (
        <div
          className="bp-error nodrag"
          data-testid={`node-error-${id}`}
          title={errors.map((e) => e.message).join("\n")}
        >
          {errors[0].message}
          {errors.length > 1 && ` (+${errors.length - 1} more)`}
        </div>
      ) : null}
      {!open && (
        <>
          <NodeLive id={liveId} />
          <UnitThumbs id={liveId} />
          <NodeExplain id={liveId} block={liveId === id ? undefined : id} />
        </>
      )}
    </div>
  );
}

/** An instance's buttons: open it in place (a group holding its module's blocks, edited
 * there) or close it; "edit" (or a double-click on the block) puts the module's definition
 * on the canvas. (Unpack is in the inspector and on Ctrl+Shift+G, away from where a
 * double-click lands.) */
function ModuleButtons({ id, module, open }: { id: string; module: string; open: boolean }) {
  const count = useEditor((s) => s.modules[module]?.nodes.length);
  const toggle = useEditor((s) => s.toggleExpanded);
  const enter = useEditor((s) => s.enterModule);
  if (count === undefined) return null;
  return (
    <div className="bp-module nodrag">
      <button
        type="button"
        className="bp-module-toggle"
        data-testid={`expand-${id}`}
        aria-expanded={open}
        onClick={() => toggle(id)}
        title={
          open
            ? "Collapse: show the block alone"
            : "Expand in place: edit its blocks here (every instance follows)"
        }
      >
        {open ? "▾ collapse" : `▸ ${count} blocks inside`}
      </button>
      <button
        type="button"
        className="bp-module-toggle"
        data-testid={`edit-module-${id}`}
        onClick={() => enter(module)}
        title="Edit the module on its own canvas: every instance follows"
      >
        edit
      </button>
    </div>
  );
}

function Body(props: {
  id: string;
  notation: Notation;
  spec: OpSpec | undefined;
  op: string;
  params: Record<string, ParamValue>;
}) {
  const { id, notation, spec, op, params } = props;
  const label = spec?.label ?? op;
  if (notation === "observed" || notation === "parameter" || notation === "constant") {
    return (
      <>
        <div className="bp-glyph">
          <span className={id.length > 4 ? "bp-glyph-text is-long" : "bp-glyph-text"}>{id}</span>
        </div>
        <div className="bp-caption">{label}</div>
      </>
    );
  }
  const summary = paramSummary(spec, params);
  return (
    <div className="bp-body">
      <div className="bp-title">{label}</div>
      <div className="bp-id">{id}</div>
      {summary && <div className="bp-summary">{summary}</div>}
    </div>
  );
}

function Port(props: {
  node: string;
  name: string;
  kind: "in" | "out";
  index: number;
  count: number;
  labelled: boolean;
  error?: ApiErrorBody;
  doc?: string;
  /** how the notes write the port (a cost's prediction ȳ, its target y); else its name */
  label?: string;
}) {
  const { node, name, kind, index, count, labelled, error, doc } = props;
  const shown = props.label ?? name;
  const top = `${((index + 0.5) / count) * 100}%`;
  return (
    <>
      <Handle
        type={kind === "in" ? "target" : "source"}
        position={kind === "in" ? Position.Left : Position.Right}
        id={name}
        style={{ top }}
        className={error ? "bp-port port-error" : "bp-port"}
        data-testid={`port-${node}-${kind}-${name}`}
        title={error?.message ?? doc ?? name}
        tabIndex={0}
        role="button"
        aria-label={`${kind === "in" ? "input" : "output"} port ${shown} of ${node}${
          error ? `: ${error.message}` : ""
        }. Enter to connect it.`}
        onKeyDown={(e) => {
          if (e.key !== "Enter" && e.key !== " ") return;
          e.preventDefault();
          e.stopPropagation(); // the node would take Enter as "select me"
          pickPortFor({ node, handle: name, type: kind === "in" ? "target" : "source" });
        }}
      />
      {labelled && (
        <span
          className={`bp-port-label bp-port-${kind}${error ? " port-error" : ""}`}
          style={{ top }}
          data-port={name}
        >
          {shown}
        </span>
      )}
    </>
  );
}

export const OpNodeView = memo(OpNodeViewImpl);
