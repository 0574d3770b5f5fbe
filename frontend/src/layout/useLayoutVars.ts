// CSS variables some layouts need from measured sizes: the top bar's height (it wraps to two
// rows on narrow screens), so a panel docked at the side starts just below it.
import { useEffect } from "react";

export function useLayoutVars() {
  useEffect(() => {
    const bar = document.querySelector<HTMLElement>(".topbar");
    if (!bar || typeof ResizeObserver === "undefined") return;
    const root = document.documentElement;
    const write = () => root.style.setProperty("--topbar-h", `${bar.offsetHeight}px`);
    write();
    const ro = new ResizeObserver(write);
    ro.observe(bar);
    return () => ro.disconnect();
  }, []);
}
