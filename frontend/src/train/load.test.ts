// The pool's load line: what it says, and that it asks every few seconds only while visible.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LOAD_POLL_MS, loadText, loadTitle, pollLoad } from "./load";
import type { PoolLoad } from "./types";

const LOAD: PoolLoad = { workers: 2, live: 14, running: 12, queued: 3, cpu_share: 0.6449 };

describe("the load line", () => {
  it("says runs training, waiting and the CPU share in a few words", () => {
    expect(loadText(LOAD)).toBe("pool: 12 training · 3 waiting · CPU 64 %");
    expect(loadText({ ...LOAD, running: 0, queued: 0, cpu_share: 0 })).toBe(
      "pool: 0 training · 0 waiting · CPU 0 %",
    );
  });

  it("explains the numbers in its tooltip", () => {
    const title = loadTitle(LOAD);
    expect(title).toMatch(/12 runs training now, 14 held by a worker/);
    expect(title).toMatch(/3 waiting for a place/);
    expect(title).toMatch(/CPU 64 %.*2 worker processes/);
    expect(loadTitle({ ...LOAD, workers: 1, running: 1 })).toMatch(
      /1 run training.*1 worker process,/s,
    );
  });
});

describe("pollLoad", () => {
  let visibility: DocumentVisibilityState = "visible";
  const setVisibility = (v: DocumentVisibilityState) => {
    visibility = v;
    document.dispatchEvent(new Event("visibilitychange"));
  };

  beforeEach(() => {
    vi.useFakeTimers();
    visibility = "visible";
    Object.defineProperty(document, "visibilityState", {
      configurable: true,
      get: () => visibility,
    });
  });
  afterEach(() => {
    vi.useRealTimers();
    // back to jsdom's own
    delete (document as unknown as Record<string, unknown>).visibilityState;
  });

  it("asks at once, then every few seconds while the page is visible, and only then", async () => {
    const fetchLoad = vi.fn(async () => LOAD);
    const seen: (PoolLoad | null)[] = [];
    const stop = pollLoad((l) => seen.push(l), fetchLoad);
    await vi.advanceTimersByTimeAsync(0);
    expect(fetchLoad).toHaveBeenCalledTimes(1);
    expect(seen).toEqual([LOAD]);
    await vi.advanceTimersByTimeAsync(LOAD_POLL_MS);
    expect(fetchLoad).toHaveBeenCalledTimes(2);

    setVisibility("hidden");
    await vi.advanceTimersByTimeAsync(LOAD_POLL_MS * 5);
    expect(fetchLoad).toHaveBeenCalledTimes(2); // a hidden tab asks nothing

    setVisibility("visible"); // shown again: asks at once
    await vi.advanceTimersByTimeAsync(0);
    expect(fetchLoad).toHaveBeenCalledTimes(3);

    stop();
    await vi.advanceTimersByTimeAsync(LOAD_POLL_MS * 3);
    expect(fetchLoad).toHaveBeenCalledTimes(3);
  });

  it("hides the line (null) when the server does not answer, and keeps asking", async () => {
    const fetchLoad = vi.fn(async () => {
      throw new Error("offline");
    });
    const seen: (PoolLoad | null)[] = [];
    const stop = pollLoad((l) => seen.push(l), fetchLoad);
    await vi.advanceTimersByTimeAsync(LOAD_POLL_MS);
    expect(seen).toEqual([null, null]);
    stop();
  });
});
