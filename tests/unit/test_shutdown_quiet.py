"""`chuishao serve` stopped while a thread's call into the event loop is pending (the Prefect server's start-up
calls in through anyio): the call is cancelled without a traceback on the terminal, other errors still print."""

import asyncio
import contextlib
import logging
import threading

import anyio.from_thread
import anyio.lowlevel
import pytest

from chuishao.api.embedded import quiet_thread_calls_cancelled

SHUTDOWN = "unhandled exception during asyncio.run() shutdown"


def _stop_while_a_thread_waits_on_the_loop(handler) -> None:
    async def main():
        if handler is not None:
            asyncio.get_running_loop().set_exception_handler(handler)
        token, called = anyio.lowlevel.current_token(), threading.Event()

        async def long_call():
            called.set()
            await asyncio.sleep(60)

        def thread():
            with contextlib.suppress(BaseException):  # the thread is told its call was cancelled
                anyio.from_thread.run(long_call, token=token)

        threading.Thread(target=thread, daemon=True).start()
        while not called.is_set():
            await asyncio.sleep(0.01)
        # return now: asyncio.run cancels the pending call as it shuts the loop down

    asyncio.run(main())


@pytest.mark.parametrize("handler", [None, quiet_thread_calls_cancelled], ids=["asyncio's own", "serve's"])
def test_a_thread_call_cancelled_at_shutdown_prints_no_traceback(handler, caplog):
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        _stop_while_a_thread_waits_on_the_loop(handler)
    reported = SHUTDOWN in caplog.text
    assert reported == (handler is None)  # without serve's handler asyncio reports it: the situation is real


def test_other_errors_still_reach_the_default_handler(caplog):
    async def main():
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(quiet_thread_calls_cancelled)
        loop.call_exception_handler({"message": "something else failed", "exception": ValueError("boom")})

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        asyncio.run(main())
    assert "something else failed" in caplog.text and "boom" in caplog.text
