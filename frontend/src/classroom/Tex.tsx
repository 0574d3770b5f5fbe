import katex from "katex";
import { memo, useEffect, useRef } from "react";
import "katex/dist/katex.min.css";

/** LaTeX through KaTeX; a malformed formula shows as red source and never throws. */
function TexImpl(props: { tex: string; display?: boolean; testid?: string; className?: string }) {
  const { tex, display = false, testid, className } = props;
  const ref = useRef<HTMLSpanElement>(null);
  useEffect(() => {
    if (ref.current) {
      katex.render(tex, ref.current, {
        throwOnError: false,
        displayMode: display,
        strict: "ignore",
        trust: false,
      });
    }
  }, [tex, display]);
  return (
    <span
      ref={ref}
      className={`cx-tex${display ? " is-display" : ""}${className ? ` ${className}` : ""}`}
      data-testid={testid}
      data-tex={tex}
    />
  );
}

export const Tex = memo(TexImpl);
