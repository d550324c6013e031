"""Run as a script by tests/integration/test_worker_zygote.py: a pool whose zygote
cannot fork its second worker (as under a pids limit), then a message inspected.

Prints one JSON line: whether the zygote is still there, what kind of process each
worker is, and whether the message was judged. A script, not a test: pytest's own
threads would stop the zygote from being forked at all.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os

from mailguard import log as mglog
from mailguard.inspection import workers, zygote
from mailguard.model import Envelope


def failing_second_fork() -> None:
    real, calls = os.fork, [0]

    def fork() -> int:
        calls[0] += 1
        if calls[0] == 2:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return real()

    os.fork = fork  # in the zygote only: this runs as its preload


async def main() -> None:
    forker = zygote.prefork(lambda: workers._serve_requests(workers.DEFAULT_TARGET, warm=False),
                            failing_second_fork)  # fmt: skip
    assert forker is not None, "the zygote was not forked"
    pool = workers.InspectionPool(1, 60, forker=forker)
    await pool.start()
    [first] = pool._workers
    first.kill()  # its replacement is the zygote's second fork, which fails
    for _ in range(600):
        await asyncio.sleep(0.05)
        if pool._workers and first not in pool._workers:
            break
    raw = b"From: a@council.example\r\nTo: b@example.org\r\nSubject: x\r\n\r\nhello\r\n"
    inspection = await pool.inspect(Envelope("a@council.example", ("b@example.org",)), raw)
    kinds = sorted(type(w.proc).__name__ for w in pool._workers)
    print(json.dumps({"zygote_alive": forker.alive, "workers": kinds,
                      "judged": inspection.decision is not None}))  # fmt: skip
    await pool.close()


if __name__ == "__main__":
    mglog.configure("info")
    asyncio.run(main())
