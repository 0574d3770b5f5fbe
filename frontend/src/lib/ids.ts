export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** A readable id not in `taken`: the op name plus the smallest free number (linear1, linear2…). */
export function freshId(base: string, taken: ReadonlySet<string>): string {
  const stem = base.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 56) || "node";
  for (let n = 1; ; n++) {
    const id = `${stem}${n}`;
    if (!taken.has(id)) return id;
  }
}
