import katex from "katex";
import { useEffect, useRef } from "react";
import "katex/dist/katex.min.css";

/** Renders LaTeX from the op spec; a malformed formula shows as red source, never throws. */
export function Formula({ tex, testid }: { tex: string; testid?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (ref.current)
      katex.render(tex, ref.current, { throwOnError: false, displayMode: true, strict: "ignore" });
  }, [tex]);
  // A long formula scrolls sideways: focusable, so a keyboard user can scroll it too, and
  // named after its source for screen readers (KaTeX's MathML is inside as well).
  return (
    <div
      ref={ref}
      className="formula"
      data-testid={testid}
      // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable formula must take focus
      tabIndex={0}
      role="math"
      aria-label={tex}
    />
  );
}
