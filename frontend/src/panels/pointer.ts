/** Where the pointer last was over the canvas, so quick-add places the node under it. Kept
 * outside React and the stores: it changes on every mouse move and nothing re-renders for it. */
let last: { x: number; y: number } | undefined;

export const trackPointer = (e: { clientX: number; clientY: number }) => {
  last = { x: e.clientX, y: e.clientY };
};
export const forgetPointer = () => {
  last = undefined;
};
export const lastPointer = () => last;
