import { useEffect } from "react";
import { confirmDiscard, newGraph, saveGraph } from "../store/documents";
import { useEditor } from "../store/editor";
import { useUi } from "../store/ui";
import { useCanvasCommands } from "./commands";
import { openQuickAdd } from "./quickAdd";

/** Every shortcut, as the help overlay lists it. Keep in step with `onKey` below. */
export const SHORTCUTS: { keys: string; what: string }[] = [
  {
    keys: "/  or  A",
    what: "Quick add: type an op name, Enter to place it (right of the selected node, wired from it)",
  },
  { keys: "Double-click canvas", what: "Quick add there" },
  { keys: "Drop a wire on empty canvas", what: "Quick add a node wired to it" },
  { keys: "Tab  /  Shift+Tab", what: "Focus the next node or port" },
  {
    keys: "Enter on a port",
    what: "Connect it: choose the port at the other end, Enter (type to filter)",
  },
  { keys: "Enter on a node", what: "Select the focused node" },
  { keys: "Arrow keys", what: "Move the selected nodes (Shift: further)" },
  {
    keys: "Drag from palette",
    what: "Add an op where you drop it (or click it to add in the middle)",
  },
  { keys: "Drag port → port", what: "Connect an output to an input (replaces the input's link)" },
  { keys: "Drag an edge end", what: "Reconnect it; drop it on empty canvas to delete it" },
  { keys: "Esc", what: "Close a dialog" },
  { keys: "Delete  /  Backspace", what: "Delete the selected nodes and edges" },
  { keys: "Click, Ctrl/⌘+click", what: "Select, add to the selection" },
  { keys: "Shift+drag", what: "Box-select" },
  { keys: "Ctrl/⌘+A", what: "Select all" },
  { keys: "Ctrl/⌘+C  /  Ctrl/⌘+V", what: "Copy, paste" },
  { keys: "Ctrl/⌘+D", what: "Duplicate the selection" },
  { keys: "Ctrl/⌘+G", what: "Make block: group the selection into a module" },
  { keys: "Ctrl/⌘+Shift+G", what: "Unpack: the selected module block back into its blocks" },
  {
    keys: "▸ on a module block",
    what: "Open it in place: edit its blocks there (every instance follows)",
  },
  { keys: "Double-click a module block", what: "Edit its module (every instance follows)" },
  { keys: "Ctrl/⌘+Z", what: "Undo" },
  { keys: "Ctrl/⌘+Shift+Z  or  Ctrl/⌘+Y", what: "Redo" },
  { keys: "Ctrl/⌘+S", what: "Save to the server" },
  { keys: "L", what: "Auto-layout, left to right" },
  { keys: "F", what: "Fit the graph in view" },
  { keys: "O", what: "Show or hide the topological order" },
  { keys: "Scroll  /  drag canvas", what: "Zoom, pan" },
  { keys: "N", what: "New graph" },
  { keys: "?", what: "This help" },
];

function isEditable(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null;
  if (!el?.tagName) return false;
  return el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);
}

export function useShortcuts() {
  const commands = useCanvasCommands();
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const ui = useUi.getState();
      if (e.key === "Escape" && ui.dialog) {
        ui.closeDialog();
        return;
      }
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      if (mod && key === "s") {
        e.preventDefault();
        void saveGraph();
        return;
      }
      // Typing in a field, or a dialog owns the keyboard: leave keys alone.
      if (ui.dialog || isEditable(e.target) || e.altKey) return;
      const ed = useEditor.getState();
      const run = (f: () => unknown) => {
        e.preventDefault();
        f();
      };
      if (mod) {
        if ((key === "z" && e.shiftKey) || key === "y") run(ed.redo);
        else if (key === "z") run(ed.undo);
        else if (key === "c") run(ed.copy);
        else if (key === "v") run(ed.paste);
        else if (key === "d") run(ed.duplicate);
        else if (key === "a") run(ed.selectAll);
        else if (key === "g" && e.shiftKey) run(commands.unpack);
        else if (key === "g") run(commands.makeBlock);
        return;
      }
      if (e.key === "?") run(() => ui.openDialog("help"));
      else if (e.key === "/" || key === "a") run(() => openQuickAdd());
      else if (key === "l") run(commands.layout);
      else if (key === "f") run(commands.fit);
      else if (key === "o") run(ui.toggleOrder);
      else if (key === "n") run(() => confirmDiscard() && newGraph());
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [commands]);
}
