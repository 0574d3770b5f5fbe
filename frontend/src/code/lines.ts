// Reading the PyTorch exporter's listing: which line computes which node. Each forward line
// ends with `# <id> (<op>) [shape]` (backend/blockprop/export/pytorch.py).

/** Index of the forward line that computes `node`, or -1. */
export function lineOfNode(lines: readonly string[], node: string | null): number {
  if (!node) return -1;
  const tag = `# ${node} (`;
  return lines.findIndex((l) => l.includes(tag) && /^\s+\w+ = /.test(l));
}

/** The listing without its trailing STATE block (the numbers: long, and not the drawing). */
export function withoutState(source: string): { code: string; omitted: number } {
  const at = source.indexOf("\n#: the initial parameters");
  const start = at >= 0 ? at : source.indexOf("\nSTATE = {");
  if (start < 0) return { code: source, omitted: 0 };
  const rest = source.slice(start);
  return {
    code: `${source.slice(0, start)}\n# STATE = {...}  (the parameters: in the copied text and the download)\n`,
    omitted: rest.split("\n").length,
  };
}
