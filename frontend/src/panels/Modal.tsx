import { type ReactNode, useEffect, useRef } from "react";
import { useUi } from "../store/ui";

/** A plain modal: Esc (handled globally) or a click on the backdrop closes it. */
export function Modal(props: {
  title: string;
  testid: string;
  children: ReactNode;
  wide?: boolean;
}) {
  const close = useUi((s) => s.closeDialog);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    // Focus the first field so keyboard users can type at once.
    const first = box.current?.querySelector<HTMLElement>(".modal-body input, .modal-body button");
    (first ?? box.current?.querySelector<HTMLElement>("button"))?.focus();
  }, []);
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: Esc closes it for keyboard users; a backdrop click is the mouse equivalent
    <div
      className="modal-backdrop"
      role="presentation"
      onMouseDown={(e) => e.target === e.currentTarget && close()}
    >
      <div
        ref={box}
        className={props.wide ? "modal wide" : "modal"}
        role="dialog"
        aria-modal="true"
        aria-label={props.title}
        data-testid={props.testid}
      >
        <header className="modal-head">
          <h2>{props.title}</h2>
          <button
            type="button"
            className="btn ghost"
            aria-label="Close"
            data-testid="dialog-close"
            onClick={close}
          >
            ✕
          </button>
        </header>
        {/* focusable: a long body (the shortcut list) scrolls by keyboard too */}
        {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must take focus to scroll by keyboard (axe scrollable-region-focusable) */}
        <div className="modal-body" tabIndex={0}>
          {props.children}
        </div>
      </div>
    </div>
  );
}
