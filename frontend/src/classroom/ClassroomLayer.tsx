import { useEffect } from "react";
import "./classroom.css";
import { useEditor } from "../store/editor";
import { useUi } from "../store/ui";
import { BackwardGraph } from "./BackwardGraph";
import { resumeBroadcast } from "./broadcast";
import { isFollowPage } from "./follow";
import { bodyClasses, exitPresent, onClassroomKey, readUrlFlags } from "./present";
import { useClassroom } from "./store";

/** Mounted once per page: URL options, presentation classes, classroom keys, overlays. */
export function ClassroomLayer() {
  const present = useClassroom((s) => s.present);
  const hidden = useClassroom((s) => s.hidden);
  const explaining = useClassroom((s) => s.open);

  useEffect(() => {
    const flags = readUrlFlags(window.location.search);
    const s = useClassroom.getState();
    s.setHidden(flags.hidden);
    s.setPresent(flags.present);
    if (flags.explain && s.role !== "follower") return openWhenReady(flags.step);
  }, []);

  useEffect(() => {
    const classes = bodyClasses(present, hidden, explaining);
    document.body.classList.add(...classes);
    return () => document.body.classList.remove(...classes);
  }, [present, hidden, explaining]);

  // a teacher who reloads keeps broadcasting to the same followers
  useEffect(() => {
    if (isFollowPage()) return;
    let done = false;
    const tryResume = () => {
      const ed = useEditor.getState();
      if (done || ed.opsStatus !== "ready" || ed.loadSeq === 0) return;
      done = true;
      void resumeBroadcast();
    };
    const unsub = useEditor.subscribe(tryResume);
    tryResume();
    return unsub;
  }, []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => onClassroomKey(e, useUi.getState().dialog !== null);
    window.addEventListener("keydown", onKey, true);
    return () => window.removeEventListener("keydown", onKey, true);
  }, []);

  return (
    <>
      <BackwardGraph />
      {present && (
        <div className="cx-present-bar" data-testid="present-bar">
          <button
            type="button"
            className="btn small"
            data-testid="present-explain"
            onClick={() => useClassroom.getState().toggleExplain()}
          >
            Explain (E)
          </button>
          <button
            type="button"
            className="btn small"
            data-testid="present-exit"
            title="Leave presentation mode (Esc)"
            onClick={exitPresent}
          >
            Exit presentation
          </button>
        </div>
      )}
    </>
  );
}

/** `?explain=1&step=N`: open explain mode once the graph is loaded and valid, then go to N. */
function openWhenReady(step: number | null): () => void {
  let done = false;
  const tryOpen = () => {
    const ed = useEditor.getState();
    if (done || ed.opsStatus !== "ready" || ed.validation.status !== "valid") return;
    done = true;
    useClassroom.getState().openExplain();
  };
  const unsubEditor = useEditor.subscribe(tryOpen);
  const unsubClassroom = useClassroom.subscribe((s, prev) => {
    if (step !== null && s.status === "ready" && prev.status !== "ready") {
      useClassroom.getState().goto(step);
      step = null;
    }
  });
  tryOpen();
  return () => {
    unsubEditor();
    unsubClassroom();
  };
}
