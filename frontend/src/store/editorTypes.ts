import type { Connection, EdgeChange, NodeChange } from "@xyflow/react";
import type { GraphDoc, OpSpec, ParamValue, ValidateResult } from "../api/types";
import type { Fragment } from "../lib/clipboard";
import type { FlowEdge, OpIndex, OpNode } from "../lib/doc";
import type { Modules } from "../lib/modules";
import type { Validation } from "./validation";

/** What undo/redo restores: the document as drawn. Node objects are immutable, so a snapshot
 * shares them with the live state and costs one array per step. */
export interface Snapshot {
  name: string;
  description: string;
  nodes: OpNode[];
  edges: FlowEdge[];
  modules: Modules;
  /** trained parameters: making a block moves them to the instance's addresses */
  state: GraphDoc["state"];
}

/** The graph's own canvas, kept aside while a module's definition is on the canvas. */
export interface ModuleEditing {
  module: string;
  nodes: OpNode[];
  edges: FlowEdge[];
  /** the graph's open instances, open again on the way back */
  expanded: Record<string, true>;
}

export interface LoadOptions {
  graphId?: string | null;
  graphRevision?: number | null;
  /** the document holds edits the server has not seen (a restored draft, an import) */
  dirty?: boolean;
}

export interface EditorState {
  /** the registry's ops and, for the canvas, one per module (instances) and `@in`/`@out` */
  ops: OpIndex;
  /** the registry's ops alone */
  baseOps: OpIndex;
  opList: OpSpec[];
  opsStatus: "loading" | "ready" | "error";

  name: string;
  nodes: OpNode[];
  edges: FlowEdge[];
  description: string;
  /** trained parameters carried through from a loaded document, untouched by the editor */
  state: GraphDoc["state"];
  /** how the inputs were scaled when `state` was trained (travels with it) */
  normalization: GraphDoc["normalization"];
  /** where the document is stored on the server, and the stored revision it is based on */
  graphId: string | null;
  graphRevision: number | null;
  /** bumps when a whole document is loaded, so the canvas can frame it */
  loadSeq: number;

  /** bumps on every change to the document; equal to savedRevision when nothing is unsaved */
  revision: number;
  savedRevision: number;

  past: Snapshot[];
  future: Snapshot[];
  /** consecutive edits with the same key (typing in one field) make one undo step */
  coalesceKey: string | null;

  clipboard: Fragment | null;
  validation: Validation;

  /** the module definitions (instances on the canvas have op `module:<name>`) */
  modules: Modules;
  /** the module whose definition is on the canvas, if any */
  editing: ModuleEditing | null;
  /** instances drawn open (React Flow groups holding their module's blocks as nodes
   * `b1/l`, edited in place: lib/expand.ts); never part of the saved document */
  expanded: Record<string, true>;

  setOps: (ops: OpSpec[]) => void;
  setOpsFailed: () => void;
  onNodesChange: (changes: NodeChange<OpNode>[]) => void;
  onEdgesChange: (changes: EdgeChange<FlowEdge>[]) => void;
  /** Records an undo step; called before React Flow deletes or drags elements. */
  checkpoint: (key?: string) => void;
  /** Adds an edge unless it would close a cycle; returns the refusal message, or null. */
  connect: (c: Connection) => string | null;
  reconnect: (old: FlowEdge, c: Connection) => string | null;
  removeEdge: (id: string) => void;
  /** `params` override the op's defaults (smart defaults chosen by the caller). */
  addNode: (
    op: string,
    position: { x: number; y: number },
    params?: Record<string, ParamValue>,
  ) => string | null;
  setParam: (id: string, name: string, value: ParamValue | undefined) => void;
  /** Sets several params of one node as one undo step. */
  setParams: (id: string, patch: Record<string, ParamValue>) => void;
  renameNode: (id: string, next: string) => string | null;
  setName: (name: string) => void;
  deleteSelected: () => void;
  selectOnly: (ids: string[]) => void;
  selectAll: () => void;
  copy: () => number;
  paste: () => number;
  duplicate: () => number;
  undo: () => void;
  redo: () => void;
  applyPositions: (positions: Record<string, { x: number; y: number }>) => void;
  loadDoc: (doc: GraphDoc, opts?: LoadOptions) => string[];
  newGraph: () => void;
  /** The document changed outside the graph (the dock's dataset or training settings, which
   * it carries): unsaved until the next save, like an edit, but no undo step. */
  touch: () => void;
  markSaved: (graphId: string, graphRevision?: number | null) => void;
  setDescription: (text: string) => void;
  setValidation: (v: ValidateResult | "pending" | "offline" | "empty", message?: string) => void;
  toDoc: () => GraphDoc;
  /** Groups the selected nodes into a new module and one instance of it (undoable); returns
   * why not, or null. */
  makeBlock: () => string | null;
  /** Puts a module's definition on the canvas: every instance follows its edits. */
  enterModule: (module: string) => void;
  /** Writes the edited definition back and returns to the graph. */
  leaveModule: () => void;
  toggleExpanded: (id: string) => void;
  /** Inlines a module instance (`id`, else the one selected) as plain blocks with fresh ids:
   * the inverse of makeBlock, one undo step. Returns why not, or null. */
  unpack: (id?: string) => string | null;
  /** Renames a module: its instances everywhere follow. Returns why not, or null. */
  renameModule: (from: string, to: string) => string | null;
}
