// Parameters learned on standardised features, said in the data's own units. A run with
// "normalise features" feeds x' = (x − mean) / std, so y = W x' + b = (W / std) x + (b − W·mean/std).

export interface Normalization {
  mean: number[];
  std: number[];
}

/** W [out][in] and b [out] learned on x' as the same affine map of the raw x. */
export function toRawUnits(
  W: number[][],
  b: number[] | undefined,
  norm: Normalization,
): { W: number[][]; b: number[] } {
  const scale = norm.std.map((s) => (s === 0 ? 1 : s)); // a constant feature is fed as is
  const rawW = W.map((row) => row.map((w, i) => w / scale[i]));
  const rawB = W.map(
    (row, o) => (b?.[o] ?? 0) - row.reduce((acc, w, i) => acc + (w * norm.mean[i]) / scale[i], 0),
  );
  return { W: rawW, b: rawB };
}
