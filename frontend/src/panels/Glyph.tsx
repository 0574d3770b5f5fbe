import type { Notation } from "../lib/notation";

/** The small notation symbol used in the palette and inspector, matching the canvas shapes. */
export function Glyph({ notation }: { notation: Notation }) {
  return <span className={`glyph glyph-${notation}`} aria-hidden="true" />;
}
