// The classroom's keys, in one table: `onClassroomKey` (present.ts) dispatches from it, the `?`
// help overlay lists it and the explain panel's footer shows a few of it. No store here, so
// the editor's overlay imports it without pulling in the classroom.

export type ClassroomAction =
  | "prev"
  | "next"
  | "first"
  | "last"
  | "into"
  | "out"
  | "play"
  | "backward"
  | "gradcheck"
  | "weights"
  | "explain"
  | "present"
  | "escape";

export interface ClassroomKey {
  action: ClassroomAction;
  /** the `KeyboardEvent.key` values that do it */
  codes: string[];
  /** the keys as shown, each in its own <kbd> */
  keys: string[];
  /** what it does, as the help overlay says */
  what: string;
  /** a follower (a student on /follow/{id}) does not have it */
  teacher?: boolean;
}

export const CLASSROOM_KEYS: readonly ClassroomKey[] = [
  {
    action: "explain",
    codes: ["e", "E"],
    keys: ["E"],
    what: "Explain mode: open or close (one sample, node by node)",
    teacher: true,
  },
  {
    action: "next",
    codes: ["ArrowRight", "PageDown"],
    keys: ["→", "PageDown"],
    what: "Explain mode: next step",
  },
  {
    action: "prev",
    codes: ["ArrowLeft", "PageUp"],
    keys: ["←", "PageUp"],
    what: "Explain mode: previous step",
  },
  { action: "first", codes: ["Home"], keys: ["Home"], what: "Explain mode: back to the start" },
  { action: "last", codes: ["End"], keys: ["End"], what: "Explain mode: the last step" },
  {
    action: "into",
    codes: ["ArrowDown", "i", "I"],
    keys: ["↓", "I"],
    what: "Explain mode: step into the module block ahead (its inner blocks one by one)",
  },
  {
    action: "out",
    codes: ["ArrowUp", "u", "U"],
    keys: ["↑", "U"],
    what: "Explain mode: step out of the module block (it is one step again)",
  },
  {
    action: "play",
    codes: [" "],
    keys: ["Space"],
    what: "Explain mode: play or pause the walk",
  },
  {
    action: "backward",
    codes: ["b", "B"],
    keys: ["B"],
    what: "Explain mode: show or hide the backward graph",
  },
  {
    action: "gradcheck",
    codes: ["g", "G"],
    keys: ["G"],
    what: "Explain mode: check the gradients numerically",
    teacher: true,
  },
  {
    action: "weights",
    codes: ["w", "W"],
    keys: ["W"],
    what: "Explain mode: initial or trained weights (when the dock has a run)",
    teacher: true,
  },
  { action: "present", codes: ["p", "P"], keys: ["P"], what: "Presentation mode: on or off" },
  {
    action: "escape",
    codes: ["Escape"],
    keys: ["Esc"],
    what: "Close the backward graph, else leave presentation mode",
  },
];

/** The explain panel's footer: which keys it shows, and its short words for them. */
export const FOOTER_KEYS: readonly [ClassroomAction[], string][] = [
  [["prev", "next"], "step"],
  [["into", "out"], "into/out of a block"],
  [["play"], "play"],
  [["backward"], "backward graph"],
  [["gradcheck"], "check"],
  [["explain"], "close"],
  [["present"], "present"],
];

export const classroomKey = (action: ClassroomAction): ClassroomKey =>
  CLASSROOM_KEYS.find((k) => k.action === action) as ClassroomKey;

/** Keys that only mean something in a graph with module instances. */
const BLOCK_ACTIONS: readonly ClassroomAction[] = ["into", "out"];

/** The footer's groups for a teacher or a follower: the first key of each action, and the
 * words; the block keys only when the graph has modules. */
export function footerKeys(follower: boolean, blocks = false): { keys: string[]; label: string }[] {
  return FOOTER_KEYS.map(([actions, label]) => ({
    keys: actions
      .map(classroomKey)
      .filter((k) => !(follower && k.teacher) && (blocks || !BLOCK_ACTIONS.includes(k.action)))
      .map((k) => k.keys[0]),
    label,
  })).filter((g) => g.keys.length > 0);
}
