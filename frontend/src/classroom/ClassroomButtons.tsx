import { useEffect, useRef, useState } from "react";
import { useUi } from "../store/ui";
import { followUrl, startBroadcast, stopBroadcast } from "./broadcast";
import { useClassroom } from "./store";

/** The classroom's buttons in the top bar: explain mode and broadcast (presentation mode is in the
 * explain panel, on the P key and in the URL). */
export function ClassroomButtons() {
  const open = useClassroom((s) => s.open);
  const toggle = useClassroom((s) => s.toggleExplain);
  return (
    <div className="group cx-buttons" data-cx="buttons">
      <button
        type="button"
        className={`btn${open ? " is-pressed" : ""}`}
        data-testid="btn-explain"
        aria-pressed={open}
        title="Explain mode: one sample forward and backward, node by node (E)"
        onClick={toggle}
      >
        Explain
      </button>
      <BroadcastButton />
    </div>
  );
}

function BroadcastButton() {
  const broadcast = useClassroom((s) => s.broadcast);
  const [busy, setBusy] = useState(false);
  const [open, setOpen] = useState(false);
  const notify = useUi((s) => s.notify);
  const wrap = useRef<HTMLSpanElement>(null);
  // the link box closes on a click elsewhere or Esc, like a menu
  useEffect(() => {
    if (!open) return;
    const onDown = (e: MouseEvent) => {
      if (wrap.current && !wrap.current.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && setOpen(false);
    document.addEventListener("mousedown", onDown);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("mousedown", onDown);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);
  if (!broadcast) {
    return (
      <button
        type="button"
        className="btn"
        data-testid="btn-broadcast"
        disabled={busy}
        title="Share a live, read-only view of this graph and of your explain steps"
        onClick={async () => {
          setBusy(true);
          try {
            await startBroadcast();
            setOpen(true);
          } catch (err) {
            notify("error", `Could not start broadcasting: ${(err as Error).message}`);
          } finally {
            setBusy(false);
          }
        }}
      >
        Live
      </button>
    );
  }
  const url = followUrl(broadcast.id);
  return (
    <span className="cx-live-wrap" ref={wrap}>
      <button
        type="button"
        className={`btn is-pressed cx-live is-${broadcast.status}`}
        data-testid="btn-broadcast"
        data-live="true"
        title={broadcast.error ?? "Broadcasting: click for the link"}
        onClick={() => setOpen(!open)}
      >
        ● Live · <span data-testid="broadcast-followers">{broadcast.followers}</span>
      </button>
      {open && (
        <div className="cx-live-pop" data-testid="broadcast-pop">
          <p>Students open this link to follow you, read-only:</p>
          <input
            readOnly
            value={url}
            data-testid="broadcast-link"
            onFocus={(e) => e.currentTarget.select()}
          />
          <div className="cx-live-actions">
            <button
              type="button"
              className="btn small"
              onClick={async () => {
                try {
                  await navigator.clipboard.writeText(url);
                  notify("info", "Follow link copied.");
                } catch {
                  notify("info", `Share this link: ${url}`);
                }
              }}
            >
              Copy link
            </button>
            <button
              type="button"
              className="btn small"
              data-testid="broadcast-stop"
              onClick={() => {
                setOpen(false);
                void stopBroadcast();
              }}
            >
              Stop broadcasting
            </button>
          </div>
          {broadcast.error && <p className="error-text">{broadcast.error}</p>}
        </div>
      )}
    </span>
  );
}
