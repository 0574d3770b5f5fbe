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
  return <div ref={ref} className="formula" data-testid={testid} />;
}
