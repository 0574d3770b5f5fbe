// Presentation mode and embedding: URL options, body classes and the keyboard.
//
//   ?present=1                  large type, the chrome hidden (top bar, palette, inspector, minimap)
//   &hide=palette,inspector     hide chosen parts (also without present=1, e.g. to embed the editor)
//   &show=topbar                show a part presentation mode hides
//   &explain=1&step=5           open explain mode at a step
//
// Hideable parts: topbar, palette, inspector, minimap, controls (zoom buttons), explain (the
// whole panel), sample, steps, tools, card, status (the top bar's validity line), dock (the
// training dock).
import { CLASSROOM_KEYS } from "./keys";
import { useClassroom } from "./store";

export const HIDEABLE = [
  "topbar",
  "palette",
  "inspector",
  "minimap",
  "controls",
  "explain",
  "sample",
  "steps",
  "tools",
  "card",
  "status",
  "dock",
] as const;

/** What presentation mode hides unless `show=` names it. */
export const PRESENT_HIDES = ["topbar", "palette", "inspector", "minimap", "dock"];

export interface UrlFlags {
  present: boolean;
  hidden: string[];
  explain: boolean;
  step: number | null;
}

const list = (v: string | null) =>
  (v ?? "")
    .split(",")
    .map((x) => x.trim().toLowerCase())
    .filter((x) => (HIDEABLE as readonly string[]).includes(x));

export function readUrlFlags(search: string): UrlFlags {
  const q = new URLSearchParams(search);
  const yes = (k: string) => ["1", "true", "yes", ""].includes(q.get(k) ?? "0");
  const present = q.has("present") && yes("present");
  const show = list(q.get("show"));
  const hide = list(q.get("hide"));
  const hidden = [...new Set([...(present ? PRESENT_HIDES : []), ...hide])].filter(
    (h) => !show.includes(h),
  );
  const step = Number(q.get("step"));
  return {
    present,
    hidden,
    explain: q.has("explain") ? yes("explain") : present && q.has("step"),
    step: q.has("step") && Number.isFinite(step) ? Math.max(0, Math.floor(step)) : null,
  };
}

/** The body classes that do the hiding (classroom.css). */
export function bodyClasses(present: boolean, hidden: string[], explaining = false): string[] {
  return [
    ...(present ? ["cx-present"] : []),
    ...(explaining && !hidden.includes("explain") ? ["cx-explaining"] : []),
    ...hidden.map((h) => `cx-hide-${h}`),
  ];
}

/** Keeps `present=1` in the URL in step with the mode, so a reload or a shared link keeps it. */
export function writePresentFlag(present: boolean) {
  const url = new URL(window.location.href);
  if (present) url.searchParams.set("present", "1");
  else url.searchParams.delete("present");
  window.history.replaceState(window.history.state, "", url);
}

export function enterPresent() {
  const s = useClassroom.getState();
  s.setHidden([...new Set([...s.hidden, ...PRESENT_HIDES])]);
  s.setPresent(true);
  writePresentFlag(true);
}

export function exitPresent() {
  const s = useClassroom.getState();
  s.setHidden(s.hidden.filter((h) => !PRESENT_HIDES.includes(h)));
  s.setPresent(false);
  writePresentFlag(false);
}

function isEditable(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null;
  if (!el?.tagName) return false;
  return el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);
}

/**
 * Classroom keys (the table in keys.ts), before the editor and the canvas see them (capture
 * phase): → / PageDown next, ← / PageUp previous, Home / End, ↓ / I step into a module block and
 * ↑ / U out of it, Space play, B backward graph,
 * G check gradients, W weights, E explain, P present, Esc leave presentation. Arrows only act while
 * explain mode is open.
 */
export function onClassroomKey(e: KeyboardEvent, dialogOpen: boolean): boolean {
  if (dialogOpen || isEditable(e.target) || e.ctrlKey || e.metaKey || e.altKey) return false;
  const entry = CLASSROOM_KEYS.find((k) => k.codes.includes(e.key));
  if (!entry) return false;
  const s = useClassroom.getState();
  if (entry.teacher && s.role === "follower") return false;
  const stepping = s.open && s.walk !== null;
  const hasBlocks = (s.result?.blocks?.length ?? 0) > 0;
  const act = ((): (() => void) | null => {
    switch (entry.action) {
      case "next":
        return stepping ? s.next : null;
      case "prev":
        return stepping ? s.prev : null;
      case "first":
        return stepping ? s.first : null;
      case "last":
        return stepping ? s.last : null;
      // only in a graph with modules: elsewhere ↑ ↓ stay the canvas's
      case "into":
        return stepping && hasBlocks ? s.stepInto : null;
      case "out":
        return stepping && hasBlocks ? s.stepOut : null;
      case "play":
        // Space on a focused button presses that button
        return stepping && (e.target as HTMLElement | null)?.tagName !== "BUTTON"
          ? s.togglePlay
          : null;
      case "backward":
        return s.open ? s.toggleBackwardGraph : null;
      case "gradcheck":
        return s.open ? () => void s.runGradcheck() : null;
      case "weights":
        return s.open ? s.toggleWeights : null;
      case "explain":
        return s.toggleExplain;
      case "present":
        return s.present ? exitPresent : enterPresent;
      case "escape":
        return s.backwardGraph ? s.toggleBackwardGraph : s.present ? exitPresent : null;
    }
  })();
  if (!act) return false;
  e.preventDefault();
  e.stopPropagation();
  act();
  return true;
}
