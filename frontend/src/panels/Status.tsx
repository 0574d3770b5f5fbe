import { useEditor } from "../store/editor";

const TEXT = {
  empty: "Empty graph",
  pending: "Validating…",
  valid: "Valid",
  invalid: "Invalid",
  offline: "Server unreachable",
} as const;

/** The validity status line. Tests read `data-status` (valid | invalid | pending | empty | offline). */
export function Status() {
  const status = useEditor((s) => s.validation.status);
  const errorCount = useEditor((s) => s.validation.errors.length);
  const message = useEditor((s) => s.validation.message);
  // the document's nodes: not the blocks drawn inside open module instances
  const nodeCount = useEditor((s) => s.nodes.filter((n) => !n.parentId).length);
  let detail = "";
  if (status === "invalid")
    detail = ` · ${errorCount} ${errorCount === 1 ? "problem" : "problems"}`;
  if (status === "valid") detail = ` · ${nodeCount} ${nodeCount === 1 ? "node" : "nodes"}`;
  return (
    <output
      className={`status status-${status}`}
      data-testid="status"
      data-status={status}
      title={message}
    >
      <span className="status-dot" />
      {TEXT[status]}
      {detail}
    </output>
  );
}
