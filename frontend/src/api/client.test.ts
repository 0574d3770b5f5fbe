// Who this browser is to the server: a random client id, made once, kept, sent on every call.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { clientId, newClientId, request } from "./client";

const KEY = "blockprop:clientId";
const VALID = /^[A-Za-z0-9_-]{8,64}$/;

beforeEach(() => localStorage.clear());
afterEach(() => vi.unstubAllGlobals());

describe("clientId", () => {
  it("is made once, kept in localStorage, and the same on every call", () => {
    const id = clientId();
    expect(id).toMatch(VALID);
    expect(localStorage.getItem(KEY)).toBe(id);
    expect(clientId()).toBe(id);
  });

  it("is random: two browsers do not share one", () => {
    const ids = new Set(Array.from({ length: 50 }, newClientId));
    expect(ids.size).toBe(50);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
  });

  it("keeps an id another tab made, and replaces one the server would not take", () => {
    localStorage.setItem(KEY, "kept-by-another-tab");
    expect(clientId()).toBe("kept-by-another-tab");
    localStorage.setItem(KEY, "no spaces!");
    const fresh = clientId();
    expect(fresh).toMatch(VALID);
    expect(localStorage.getItem(KEY)).toBe(fresh);
  });

  it("without localStorage, is one id for the page", () => {
    vi.spyOn(Storage.prototype, "getItem").mockImplementation(() => {
      throw new Error("storage disabled");
    });
    try {
      const id = clientId();
      expect(id).toMatch(VALID);
      expect(clientId()).toBe(id);
    } finally {
      vi.restoreAllMocks();
    }
  });
});

describe("request", () => {
  it("sends X-Client-Id on every call, next to the caller's own headers", async () => {
    const fetchMock = vi.fn(async () => new Response("{}", { status: 201 }));
    vi.stubGlobal("fetch", fetchMock);
    await request("/runs", { method: "POST", body: "{}", headers: { "X-Edit-Token": "t" } });
    await request("/load");
    const headers = fetchMock.mock.calls.map(
      (c) => (c as unknown as [string, RequestInit])[1].headers as Record<string, string>,
    );
    expect(headers[0]).toMatchObject({ "X-Client-Id": clientId(), "X-Edit-Token": "t" });
    expect(headers[1]["X-Client-Id"]).toBe(clientId());
  });
});
