// What the status line says about a run: its status, a held divergence, a place in the queue.
import { describe, expect, it } from "vitest";
import { etaText, queueText, statusText } from "./runs";

const queued = (ahead: number, eta: number | null) => ({
  status: "queued" as const,
  live: false,
  step: 0,
  queue: { position: ahead + 1, ahead, eta_seconds: eta },
});

describe("statusText", () => {
  it("says where a queued run stands, with the estimate when there is one", () => {
    expect(statusText(queued(3, 20))).toBe("waiting — 3 ahead of you (about 20 s)");
    expect(statusText(queued(1, null))).toBe("waiting — 1 ahead of you");
    expect(statusText(queued(0, 4.4))).toBe("waiting — you are next (about 4 s)");
    expect(statusText(queued(0, null))).toBe("waiting — you are next");
  });

  it("says waiting even before the server told the place", () => {
    expect(statusText({ status: "queued", live: false, step: 0, queue: null })).toBe(
      "waiting for a place",
    );
  });

  it("is the status otherwise, and the step a held divergence paused at", () => {
    expect(statusText({ status: "running", live: true, step: 5, queue: null })).toBe("running");
    expect(statusText({ status: "diverged", live: true, step: 12, queue: null })).toBe(
      "diverged — paused at step 12",
    );
    expect(statusText({ status: "diverged", live: false, step: 12, queue: null })).toBe("diverged");
  });
});

describe("queueText and etaText", () => {
  it("rounds the estimate as roughly as it is meant", () => {
    expect(etaText(0)).toBe("about 1 s");
    expect(etaText(59.4)).toBe("about 59 s");
    expect(etaText(59.6)).toBe("about 1 min");
    expect(etaText(150)).toBe("about 3 min");
    expect(etaText(4000)).toBe("over an hour");
  });

  it("ignores an estimate that is not a number", () => {
    expect(queueText({ position: 2, ahead: 1, eta_seconds: Number.POSITIVE_INFINITY })).toBe(
      "waiting — 1 ahead of you",
    );
    expect(queueText(undefined)).toBe("waiting for a place");
  });
});
