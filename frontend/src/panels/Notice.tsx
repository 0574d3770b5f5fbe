import { useEffect } from "react";
import { useUi } from "../store/ui";

/** One message at a time (refusals, save results), dismissed by click or after a while. */
export function Notice() {
  const notice = useUi((s) => s.notice);
  const dismiss = useUi((s) => s.dismissNotice);
  useEffect(() => {
    if (!notice) return;
    const t = setTimeout(dismiss, notice.kind === "error" ? 8000 : 4000);
    return () => clearTimeout(t);
  }, [notice, dismiss]);
  if (!notice) return null;
  return (
    <div
      className={`notice notice-${notice.kind}`}
      role="alert"
      data-testid="notice"
      data-kind={notice.kind}
    >
      <span>{notice.text}</span>
      <button type="button" className="btn ghost" aria-label="Dismiss" onClick={dismiss}>
        ✕
      </button>
    </div>
  );
}
