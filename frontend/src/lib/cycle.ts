interface Link {
  source: string;
  target: string;
}

/**
 * A path from `from` to `to` following links forward, or null. Breadth-first and iterative so
 * deep graphs cannot overflow the stack; the path found is a shortest one, which reads best in
 * the refusal message.
 */
export function findPath(links: readonly Link[], from: string, to: string): string[] | null {
  if (from === to) return [from];
  const out = new Map<string, string[]>();
  for (const l of links) {
    const list = out.get(l.source);
    if (list) list.push(l.target);
    else out.set(l.source, [l.target]);
  }
  const parent = new Map<string, string>([[from, from]]);
  const queue = [from];
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i];
    for (const next of out.get(node) ?? []) {
      if (parent.has(next)) continue;
      parent.set(next, node);
      if (next === to) {
        const path = [to];
        for (let at = to; at !== from; ) {
          at = parent.get(at) as string;
          path.push(at);
        }
        return path.reverse();
      }
      queue.push(next);
    }
  }
  return null;
}

/**
 * The cycle that adding source→target would close, as a closed walk [source, target, …, source],
 * or null when the link keeps the graph acyclic.
 */
export function cycleClosedBy(
  links: readonly Link[],
  source: string,
  target: string,
): string[] | null {
  const back = findPath(links, target, source);
  return back ? [source, ...back] : null;
}

export function cycleMessage(cycle: readonly string[]): string {
  const [source, target] = cycle;
  if (source === target) return `Refused: connecting ${source} to itself would make a cycle.`;
  return `Refused: connecting ${source} → ${target} would close the cycle ${cycle.join(" → ")}.`;
}
