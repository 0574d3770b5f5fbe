"""The sender task of one WebSocket, shared by run streams and classroom sessions.

A sender sleeps until woken, then sends whatever is newest; a send that the client does not
accept within `send_timeout` drops the client, so a stalled socket never holds anyone up.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
from collections.abc import Awaitable, Callable

SendText = Callable[[str], Awaitable[None]]


def _load_malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to do
        return None


_malloc_trim = _load_malloc_trim()


def return_freed_memory() -> None:
    """Give the memory freed by departed clients back to the system.

    A crowd of clients leaves many freed frame buffers (tens of kB each) spread over the
    allocator's heaps, including those of the threads that read the store; glibc keeps them
    mapped, so the process stays at its peak size. `malloc_trim` releases them (measured:
    +32 MB left after 150 readers without it, +10 MB with it; tests/api/test_stream_memory.py).
    It runs in a thread: on a fragmented heap it takes some milliseconds."""
    if _malloc_trim is None:
        return
    try:
        asyncio.get_running_loop().run_in_executor(None, _malloc_trim, 0)
    except RuntimeError:  # no event loop (a script, a unit test)
        _malloc_trim(0)


class Sender:
    def __init__(self, send_text: SendText, send_timeout: float):
        self._send_text = send_text
        self.send_timeout = send_timeout
        self.wake = asyncio.Event()
        self.wake.set()
        self.closed = False
        self.drop_reason: str | None = None
        self.task: asyncio.Task | None = None
        self.frames_sent = 0

    def notify(self) -> None:
        self.wake.set()

    def drop(self, reason: str) -> None:
        if not self.closed:
            self.drop_reason = reason
            self.closed = True
            self.wake.set()

    async def _send(self, text: str) -> None:
        await asyncio.wait_for(self._send_text(text), self.send_timeout)
        self.frames_sent += 1

    async def _serve(self) -> None:
        """The sending loop of a subclass; runs until `closed`."""
        raise NotImplementedError

    async def run(self) -> None:
        try:
            await self._serve()
        except TimeoutError:
            self.drop_reason = f"the client accepted nothing for {self.send_timeout:g} s"
            self.closed = True
        except asyncio.CancelledError:
            self.closed = True
            raise
        except Exception as e:  # the socket went away
            self.drop_reason = self.drop_reason or f"send failed: {type(e).__name__}"
            self.closed = True
