"""Where profiled code spends its time: each sample goes to the innermost library on its stack.

`part_of` names a stack frame's part; bench/runtime.py applies it to pyinstrument's frames, and
`spy` to the stacks py-spy samples from running servers (the py-spy of the bench dependencies,
next to this interpreter; it reads the processes' memory, so it needs ptrace rights on them).
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

EVENT_LOOP = "event loop: scheduling, socket writes and reads"
WAITING = "waiting for PostgreSQL (event loop idle)"
HTTP_FRAMEWORK = "FastAPI and Starlette: routing, middleware, dependencies, responses"
THREAD_POOL = "thread pool: handing sync code to worker threads and back (anyio)"
NATIVE = "native code under no Python frame: uvloop, httptools, asyncpg's protocol"
OTHER = "other (stdlib and libraries outside the above)"
PARTS = (
    ("/sqlalchemy/", "SQLAlchemy: statements, compilation cache, results, greenlet bridge"),
    ("/asyncpg/", "asyncpg: protocol, encoding"),
    ("/pydantic", "pydantic: validation, dumps"),
    ("/fluvius/", "fluvius runtime and generated code, with the stdlib they call"),
    ("/fastapi/", HTTP_FRAMEWORK),
    ("/starlette/", HTTP_FRAMEWORK),
    ("/uvicorn/", "uvicorn and httptools: HTTP/1.1 parsing and writing"),
    ("/jwt/", "PyJWT: token check"),
    ("/casbin/", "Casbin: policy check"),
    ("/anyio/", THREAD_POOL),
    ("/asyncio/", EVENT_LOOP),
    ("/uvloop/", EVENT_LOOP),
)
PY_SPY = Path(sys.executable).parent / "py-spy"
FRAME = re.compile(r"(?P<function>.*) \((?P<path>.*):\d+\)$")


def part_of(path: str, function: str, inherited: str) -> str:
    """The part a frame of `function` in the file at `path` belongs to: its library's, or else
    its caller's (`inherited`)."""
    if path.endswith("selectors.py") and function == "select":
        return WAITING
    return next((name for marker, name in PARTS if marker in path), inherited)


async def spy(pid: int, seconds: int, *, rate: int = 250) -> Counter[str]:
    """Sample the Python stacks of process `pid` and its subprocesses for `seconds`, while they
    run on a CPU (idle threads are not sampled); the samples per part."""
    with tempfile.TemporaryDirectory(prefix="fluvius-spy-") as folder:
        output = Path(folder) / "stacks.txt"
        process = await asyncio.create_subprocess_exec(
            *(str(PY_SPY), "record", "--pid", str(pid), "--subprocesses", "--nonblocking"),
            *("--duration", str(seconds), "--rate", str(rate), "--full-filenames"),
            *("--format", "raw", "--output", str(output)),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        log, _ = await process.communicate()
        if process.returncode != 0 or not output.exists():
            raise RuntimeError(f"py-spy failed ({process.returncode}):\n{log.decode()}")
        return stack_parts(output.read_text())


def stack_parts(collapsed: str) -> Counter[str]:
    """The samples per part of py-spy's collapsed stacks (`frame;frame;... count` lines)."""
    parts: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = [match for match in map(FRAME.match, stack.split(";")) if match is not None]
        part = OTHER if frames else NATIVE
        for frame in frames:
            part = part_of(frame["path"], frame["function"], part)
        parts[part] += int(count)
    return parts
