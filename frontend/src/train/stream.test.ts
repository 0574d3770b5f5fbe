import { afterEach, describe, expect, it, vi } from "vitest";
import { type Batch, RunStream } from "./stream";

class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 1;
  sent: string[] = [];
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onopen: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(m: string) {
    this.sent.push(m);
  }
  close() {
    this.readyState = 3;
  }
  frame(f: object) {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
}

function setup(since = 0) {
  FakeSocket.all = [];
  const batches: Batch[] = [];
  const connections: string[] = [];
  let pending: (() => void) | null = null;
  const stream = new RunStream(
    {
      runId: "r1",
      token: "tok",
      rate: 20,
      since,
      onBatch: (b) => batches.push(b),
      onConnection: (c) => connections.push(c),
    },
    (cb) => {
      pending = cb;
      return () => {
        pending = null;
      };
    },
    (url) => new FakeSocket(url) as unknown as WebSocket,
  );
  const frame = () => {
    const cb = pending;
    pending = null;
    cb?.();
  };
  return { stream, batches, connections, frame, sock: () => FakeSocket.all.at(-1) as FakeSocket };
}

const metrics = (seq: number, step: number) => ({
  type: "metrics",
  seq,
  points: [{ step, epoch: 1, loss: 1, lr: 0.1 }],
});

afterEach(() => {
  vi.useRealTimers();
});

describe("RunStream", () => {
  it("asks for the run's stream with since, rate and the edit token", () => {
    const { sock, stream } = setup(7);
    expect(sock().url).toMatch(/\/api\/runs\/r1\/stream\?since=7&rate=20&edit_token=tok$/);
    stream.close();
  });

  it("hands over one batch per frame: metrics in order, the latest snapshot only", () => {
    const { sock, batches, frame, stream } = setup();
    const s = sock();
    s.frame({ type: "hello", run_id: "r1", status: "running", seq: 0, since: 0, step: 0, run: {} });
    s.frame(metrics(1, 1));
    s.frame({ type: "snapshot", step: 1, epoch: 1, nodes: {}, params: {} });
    s.frame(metrics(2, 2));
    s.frame({ type: "snapshot", step: 2, epoch: 1, nodes: {}, params: {} });
    s.frame({ type: "status", status: "paused" });
    expect(batches).toHaveLength(0);
    frame();
    expect(batches).toHaveLength(1);
    const b = batches[0];
    expect(b.hello?.run_id).toBe("r1");
    expect(b.points.map((p) => p.step)).toEqual([1, 2]);
    expect(b.snapshot?.step).toBe(2);
    expect(b.statuses.map((x) => x.status)).toEqual(["paused"]);
    expect(stream.seq).toBe(2);
    stream.close();
  });

  it("drops resent batches and asks again after a gap in seq", () => {
    const { sock, batches, frame, stream } = setup();
    const s = sock();
    s.frame(metrics(1, 1));
    s.frame(metrics(1, 1)); // a resend
    s.frame(metrics(3, 3)); // 2 went missing
    s.frame(metrics(4, 4));
    frame();
    expect(batches[0].points.map((p) => p.step)).toEqual([1]);
    expect(JSON.parse(s.sent.at(-1) as string)).toEqual({ type: "hello", since: 1 });
    s.frame(metrics(2, 2));
    s.frame(metrics(3, 3));
    frame();
    expect(batches[1].points.map((p) => p.step)).toEqual([2, 3]);
    stream.close();
  });

  it("reconnects after the socket closes, from the last seq it holds", async () => {
    vi.useFakeTimers();
    const { sock, frame, connections, stream } = setup();
    sock().frame(metrics(1, 1));
    sock().frame(metrics(2, 2));
    frame();
    const first = sock();
    first.onclose?.();
    expect(connections.at(-1)).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(400);
    expect(sock()).not.toBe(first);
    expect(sock().url).toContain("since=2");
    sock().frame({
      type: "hello",
      run_id: "r1",
      status: "running",
      seq: 2,
      since: 2,
      step: 2,
      run: {},
    });
    frame();
    expect(connections.at(-1)).toBe("open");
    stream.close();
  });

  it("stops retrying once the run is gone", async () => {
    vi.useFakeTimers();
    FakeSocket.all = [];
    const connections: string[] = [];
    const stream = new RunStream(
      {
        runId: "gone",
        rate: 10,
        since: 0,
        onBatch: () => undefined,
        onConnection: (c) => connections.push(c),
        exists: async () => false,
      },
      () => () => undefined,
      (url) => new FakeSocket(url) as unknown as WebSocket,
    );
    FakeSocket.all[0].onclose?.();
    await vi.advanceTimersByTimeAsync(400);
    expect(connections.at(-1)).toBe("closed");
    expect(FakeSocket.all).toHaveLength(1);
    stream.close();
  });

  it("lets metrics alone wait for a lazy frame, and a snapshot make it due at once", () => {
    FakeSocket.all = [];
    const scheduled: boolean[] = [];
    let pending: (() => void) | null = null;
    const batches: Batch[] = [];
    const stream = new RunStream(
      {
        runId: "r1",
        rate: 20,
        since: 0,
        onBatch: (b) => batches.push(b),
        onConnection: () => undefined,
      },
      (cb, lazy) => {
        scheduled.push(!!lazy);
        pending = cb;
        return () => {
          pending = null;
        };
      },
      (url) => new FakeSocket(url) as unknown as WebSocket,
    );
    const s = FakeSocket.all[0];
    s.frame(metrics(1, 1));
    s.frame(metrics(2, 2));
    expect(scheduled).toEqual([true]); // one flush, lazy
    s.frame({ type: "snapshot", step: 2, epoch: 1, nodes: {}, params: {} });
    expect(scheduled).toEqual([true, false]); // made due at the next frame
    s.frame(metrics(3, 3));
    expect(scheduled).toEqual([true, false]);
    (pending as (() => void) | null)?.();
    expect(batches).toHaveLength(1);
    expect(batches[0].points.map((p) => p.step)).toEqual([1, 2, 3]);
    expect(batches[0].snapshot?.step).toBe(2);
    stream.close();
  });

  it("takes frames parsed in the live worker as they are", () => {
    const { sock, batches, frame, stream } = setup();
    const snapshot = { type: "snapshot", step: 4, epoch: 1, nodes: {}, params: {} };
    sock().onmessage?.({ data: null, frame: snapshot } as unknown as { data: string });
    sock().onmessage?.({ data: JSON.stringify(metrics(1, 4)) });
    frame();
    expect(batches[0].snapshot).toBe(snapshot);
    expect(batches[0].points.map((p) => p.step)).toEqual([4]);
    stream.close();
  });
});
