"""WS /api/runs/{id}/stream: hello, gap-free metrics, snapshots, boundary, status, control,
reconnection, several clients, and a stalled client that holds up neither the run nor the others."""

import asyncio
import contextlib
import json
import socket
import time

import websockets

from .conftest import RUN_ENV, Api, assert_error, connect, recv_json, recv_until
from .stalled import read_until_closed, send_text, stalled_socket


def check_seq(frames: list[dict], start: int = 1) -> list[dict]:
    """The metrics frames, whose seq must run start, start+1, … with steps contiguous."""
    metrics = [f for f in frames if f["type"] == "metrics"]
    assert [f["seq"] for f in metrics] == list(range(start, start + len(metrics)))
    steps = [p["step"] for f in metrics for p in f["points"]]
    assert steps == list(range(steps[0], steps[0] + len(steps))) if steps else True
    return metrics


def test_a_run_streamed_end_to_end(runs_api):
    run = runs_api.start_run(train={"epochs": 400, "optimizer": "adam", "lr": 0.05}, paused=True)

    async def go():
        async with connect(runs_api, run, "?since=0") as ws:
            hello = await recv_json(ws)
            assert hello["type"] == "hello" and hello["run_id"] == run["id"]
            assert hello["status"] == "paused" and hello["since"] == 0
            assert hello["run"]["config"]["epochs"] == 400 and hello["can_control"] is False
            # a paused run still shows its values
            frames = await recv_until(ws, lambda f: f["type"] == "snapshot")
            runs_api.control(run, "resume")
            frames += await recv_until(
                ws, lambda f: f["type"] == "status" and f["status"] == "done", timeout=30
            )
            return hello, frames

    hello, frames = asyncio.run(go())
    metrics = check_seq(frames)
    steps = [p["step"] for f in metrics for p in f["points"]]
    assert steps == list(range(1, 401))
    assert metrics[-1]["points"][-1]["accuracy"] is not None
    snapshots = [f for f in frames if f["type"] == "snapshot"]
    assert snapshots and {"hidden", "h", "score", "cost"} <= set(snapshots[-1]["nodes"])
    summary = snapshots[-1]["nodes"]["h"]["value"]
    assert {"mean", "std", "min", "max", "hist"} <= set(summary)
    assert snapshots[-1]["params"]["hidden"]["W"]["matrix"]  # small weights in full
    boundary = [f for f in frames if f["type"] == "boundary"]
    assert boundary and len(boundary[-1]["z"]) == 48 and boundary[-1]["kind"] == "class"
    final = frames[-1]
    assert final["reason"] == "finished 400 epochs" and final["step"] == 400
    # metrics come before the final status; snapshots are coalesced (far fewer than steps)
    assert len(snapshots) < 100


def test_reconnect_mid_run_resumes_without_gaps(runs_api):
    run = runs_api.start_run()

    async def go():
        async with connect(runs_api, run, "?since=0&rate=0") as ws:
            first = await recv_until(ws, lambda f: f["type"] == "metrics" and f["seq"] >= 5)
        seen = check_seq(first)[-1]["seq"]
        # batches go by while disconnected
        await _until(
            lambda: runs_api.get(f"/api/runs/{run['id']}").json()["last_seq"] >= seen + 3,
            "batches while disconnected",
        )
        async with connect(runs_api, run, f"?since={seen}&rate=0") as ws:
            hello = await recv_json(ws)
            assert hello["since"] == seen and hello["seq"] > seen
            target = hello["seq"] + 3
            second = await recv_until(ws, lambda f: f["type"] == "metrics" and f["seq"] >= target)
        check_seq(second, start=seen + 1)
        steps = [p["step"] for f in first + second if f["type"] == "metrics" for p in f["points"]]
        assert steps == list(range(1, len(steps) + 1))

    asyncio.run(go())


def test_hello_since_resyncs_mid_connection(runs_api):
    run = runs_api.start_run()

    async def go():
        async with connect(runs_api, run, "?rate=0") as ws:
            hello = await recv_json(ws)
            # live from the connection on by default: batches that land while the hello is
            # being built make `seq` run ahead of `since`, and they follow the hello
            assert 0 <= hello["since"] <= hello["seq"]
            first = await recv_until(ws, lambda f: f["type"] == "metrics")
            assert first[-1]["seq"] == hello["since"] + 1
            await ws.send('{"type": "hello", "since": 0}')
            frames = await recv_until(ws, lambda f: f["type"] == "hello")
            again = frames[-1]
            assert again["since"] == 0
            replay = await recv_until(ws, lambda f: f["type"] == "metrics" and f["seq"] >= 3)
            check_seq(replay, start=1)

    asyncio.run(go())


def test_control_over_the_socket_needs_the_edit_token(runs_api):
    run = runs_api.start_run()

    async def go():
        async with connect(runs_api, run) as ws:
            await recv_json(ws)
            await ws.send('{"type": "pause"}')
            err = await recv_until(ws, lambda f: f["type"] == "error")
            assert err[-1]["error"]["code"] == "edit_token_required" and err[-1]["of"] == "pause"
            await ws.send('{"type": "auth", "edit_token": "wrong"}')
            err = await recv_until(ws, lambda f: f["type"] == "error")
            assert err[-1]["error"]["code"] == "bad_edit_token"
            await ws.send(json.dumps({"type": "auth", "edit_token": run["edit_token"]}))
            await recv_until(ws, lambda f: f["type"] == "auth")
            await ws.send('{"type": "pause"}')
            await recv_until(ws, lambda f: f["type"] == "status" and f["status"] == "paused")

        async with connect(runs_api, run, f"?edit_token={run['edit_token']}&rate=0") as ws:
            hello = await recv_json(ws)
            assert hello["can_control"] is True and hello["status"] == "paused"
            step = hello["step"]
            await ws.send('{"type": "step", "n": 3}')
            frames = await recv_until(
                ws, lambda f: f["type"] == "metrics" and f["points"][-1]["step"] >= step + 3
            )
            assert frames[-1]["points"][-1]["step"] == step + 3
            await ws.send('{"type": "set", "lr": 0.2}')
            ack = await recv_until(ws, lambda f: f["type"] in ("ack", "error"))
            assert ack[-1] == {"type": "ack", "of": "set", "values": {"lr": 0.2}}
            await ws.send('{"type": "set", "epochs": 2}')
            err = await recv_until(ws, lambda f: f["type"] == "error")
            assert "epochs" in err[-1]["error"]["message"]
            await ws.send('{"type": "resume"}')
            frames = await recv_until(ws, lambda f: f["type"] == "metrics")
            assert frames[-1]["points"][-1]["lr"] == 0.2
            await ws.send('{"type": "stop"}')
            await recv_until(ws, lambda f: f["type"] == "status" and f["status"] == "stopped")

    asyncio.run(go())


def test_bad_messages_get_error_frames_and_the_stream_goes_on(runs_api):
    run = runs_api.start_run()

    async def go():
        async with connect(runs_api, run, "?rate=0") as ws:
            await recv_json(ws)
            for bad in (
                "not json",
                "[1, 2]",
                '{"type": "dance"}',
                '{"type": "step", "n": 0}',
                '{"type": "subscribe", "rate": -1}',
                '{"type": "hello", "since": -4}',
            ):
                await ws.send(bad)
                frames = await recv_until(ws, lambda f: f["type"] == "error")
                assert frames[-1]["error"]["code"] in ("invalid_message", "edit_token_required")
            await recv_until(ws, lambda f: f["type"] == "metrics")

    asyncio.run(go())


def test_subscribe_picks_nodes_and_rate(runs_api):
    run = runs_api.start_run()

    async def go():
        async with connect(runs_api, run, "?rate=0") as ws:
            await recv_json(ws)
            t0 = time.monotonic()
            while time.monotonic() - t0 < 0.5:
                assert (await recv_json(ws))["type"] != "snapshot"
            t0 = time.monotonic()  # every snapshot from now on was sent after the subscribe
            await ws.send('{"type": "subscribe", "nodes": ["h"], "rate": 20, "boundary": false}')
            snapshots: list[dict] = []

            def eighth(f: dict) -> bool:
                assert f["type"] != "boundary"
                if f["type"] == "snapshot":
                    snapshots.append(f)
                return len(snapshots) >= 8

            await recv_until(ws, eighth)
            span = time.monotonic() - t0
            assert all(set(f["nodes"]) == {"h"} and f["params"] == {} for f in snapshots)
            # no faster than asked (a loaded machine can only make them fewer)
            assert len(snapshots) <= 20 * span + 1, (len(snapshots), span)

    asyncio.run(go())


def test_several_clients_see_the_same_metrics(runs_api):
    run = runs_api.start_run(train={"epochs": 300}, paused=True)

    async def client(ready: asyncio.Event):
        async with connect(runs_api, run, "?since=0&rate=5") as ws:
            frames = [await recv_json(ws)]  # hello
            ready.set()
            frames += await recv_until(
                ws, lambda f: f["type"] == "status" and f["status"] == "done", timeout=30
            )
            return [(f["seq"], f["points"]) for f in check_seq(frames)]

    async def go():
        readies = [asyncio.Event() for _ in range(4)]
        tasks = [asyncio.create_task(client(ready)) for ready in readies]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 20)
        runs_api.control(run, "resume")  # every client is in before the first step
        return await asyncio.gather(*tasks)

    results = asyncio.run(go())
    assert all(r == results[0] for r in results)
    assert sum(len(points) for _, points in results[0]) == 300


def test_a_finished_run_streams_its_last_state(runs_api):
    run = runs_api.start_run(train={"epochs": 10})
    runs_api.wait_status(run, {"done"})

    async def go():
        async with connect(runs_api, run, "?since=0") as ws:
            frames = await recv_until(ws, lambda f: f["type"] == "snapshot")
            kinds = [f["type"] for f in frames]
            assert kinds[0] == "hello" and "status" in kinds
            status = next(f for f in frames if f["type"] == "status")
            assert status["status"] == "done"
            assert sum(len(f["points"]) for f in check_seq(frames)) == 10
            assert frames[-1]["step"] == 10

    asyncio.run(go())


async def _until(condition, what: str, timeout: float = 30) -> None:
    """Wait (polling) until `condition()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


async def _still_connected(api, run) -> bool:
    """Whether the stalled client still holds its place: on a server that admits two stream
    clients, a third is refused (429) while client A and the stalled one are both in."""
    try:
        async with connect(api, run, "?rate=0"):
            return False
    except websockets.InvalidStatus as e:
        assert e.response.status_code == 429, e.response.status_code
        return True


def test_a_stalled_client_holds_up_neither_the_run_nor_another_client(private_server):
    """One client stops reading, then asks for the whole history so that its socket fills: all
    along, client A gets every metrics batch (no gap in `seq`) and snapshots, the run goes on,
    and the stalled client is dropped once a send to it has waited the send timeout (1.5 s).
    How fast the run and A go meanwhile is a figure of tests/bench/bench_stalled_client.py."""
    server = private_server(env={**RUN_ENV, "BLOCKPROP_MAX_WS_CLIENTS": "2"})
    api = Api(server.url)
    run = api.start_run(train={"epochs": 1_000_000, "batch_size": 8, "lr": 0.01})
    frames: list[dict] = []

    def count(kind: str, since: int = 0) -> int:
        return sum(f["type"] == kind for f in frames[since:])

    async def read_a(ws) -> None:
        async for message in ws:
            frames.append(json.loads(message))

    marks: dict[str, int] = {}
    stalled: list[socket.socket] = []

    async def go() -> None:
        async with connect(api, run, "?rate=10") as ws:
            reader = asyncio.create_task(read_a(ws))
            await _until(lambda: count("metrics") >= 2, "the run's first metrics")
            path = f"/api/runs/{run['id']}/stream?rate=10"
            stalled.append(await asyncio.to_thread(stalled_socket, server.port, path))
            marks["stall"] = len(frames)
            await _until(
                lambda: (
                    count("metrics", marks["stall"]) >= 3 and count("snapshot", marks["stall"]) >= 3
                ),
                "A's metrics and snapshots while the other client does not read",
            )
            # the stalled client asks for the whole history: its socket fills at once and the
            # server's sends to it wait until the send timeout gives up on it
            # (the metrics alone may have filled it already and got it dropped: then it is gone)
            with contextlib.suppress(OSError):
                send_text(stalled[0], '{"type": "hello", "since": 0}')
            marks["flood"] = len(frames)
            await _until(
                lambda: (
                    count("metrics", marks["flood"]) >= 3 and count("snapshot", marks["flood"]) >= 1
                ),
                "A's metrics and snapshots while the stalled client's socket is full",
            )
            deadline = time.monotonic() + 30
            while await _still_connected(api, run):
                assert time.monotonic() < deadline, "the stalled client was never dropped"
                await asyncio.sleep(0.1)
            marks["dropped"] = len(frames)
            await _until(
                lambda: count("metrics", marks["dropped"]) >= 3,
                "A's metrics after the stalled client left",
            )
            reader.cancel()

    try:
        asyncio.run(go())
        # the server is done with it: what it had queued drains, then its close frame
        closed = read_until_closed(stalled[0], within=30)
    finally:
        for s in stalled:
            s.close()
        api.close()
    hello = frames[0]
    assert hello["type"] == "hello"
    check_seq(frames, start=hello["since"] + 1)  # every batch, in order, all along
    assert count("snapshot", marks["stall"]) >= 4
    assert closed is not None, "the dropped client's connection did not end"
    code, reason = closed
    # a close frame, when it gets through the full socket, says why; else the connection ends
    assert code == 1006 or (code == 1008 and "accepted nothing for 1.5 s" in reason), closed


def test_stream_query_errors(runs_api):
    run = runs_api.start_run(train={"epochs": 2})
    assert_error(runs_api.get(f"/api/runs/{run['id']}/stream"), 404)  # not a plain GET

    async def go():
        async with websockets.connect(
            runs_api.ws_url(f"/api/runs/{run['id']}/stream?since=0&rate=999")
        ) as ws:  # a malformed `since` is refused: test_hardening.py
            hello = await recv_json(ws)
            assert hello["subscription"]["rate"] == 30  # capped

    asyncio.run(go())


def test_too_many_stream_clients_are_refused(private_server):
    from .conftest import Api

    server = private_server(env={"BLOCKPROP_MAX_WS_CLIENTS": "1"})
    api = Api(server.url)
    try:
        run = api.start_run()

        async def go():
            async with connect(api, run) as ws:
                await recv_json(ws)
                try:
                    async with connect(api, run):
                        raise AssertionError("a second client got in")
                except websockets.InvalidStatus as e:
                    assert e.response.status_code == 429

        asyncio.run(go())
    finally:
        api.close()
