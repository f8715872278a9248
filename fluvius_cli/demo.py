"""The README's demo: the bank example as a running service, on SQLite, with a token to try it.

    ./dev demo [--port 8000] [--dir demo/bank]

The first run creates the project (fluvius new project --example bank); later runs keep it and
its data, regenerate and migrate. Then it prints a token and curl lines, and serves.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
from pathlib import Path

from fluvius.cli import application
from fluvius.cli.ports import PortTaken, ensure_free

ROLE = "teller"
TOKEN_TTL = "12h"
STREAM_SETTING = "FLUVIUS_STREAM_MONEY_URL"
NATS_URL = "nats://127.0.0.1:4222"
AUTHORIZATION = '-H "Authorization: Bearer $TOKEN"'
ID_OF_REPLY = 'python3 -c \'import json, sys; print(json.load(sys.stdin)["data"]["id"])\''
WATCH_NATS = (
    'python -c "import asyncio, nats\n'
    "async def main():\n"
    "    js = (await nats.connect('{url}')).jetstream()\n"
    "    sub = await js.subscribe('bank.money.>', ordered_consumer=True)\n"
    "    async for msg in sub.messages: print(msg.data.decode())\n"
    'asyncio.run(main())"'
)


def main(arguments: list[str] | None = None) -> None:
    """Create (or refresh) the bank project, then serve it."""
    options = _parser().parse_args(arguments)
    try:
        ensure_free(options.host, options.port, flag="./dev demo --port N")
    except PortTaken as error:
        raise SystemExit(f"✗ {error}") from None
    root: Path = options.dir
    if (root / "fluvius.yaml").is_file():
        _fluvius("generate", "--project", str(root))
    else:
        _fluvius("new", "project", "bank", "--example", "bank", "--dir", str(root))
    _fluvius("migrate", "--project", str(root))
    base = f"http://{options.host}:{options.port}"
    print(instructions(root, base))
    print(_stream_instructions(root))
    _fluvius("run", "--project", str(root), "--host", options.host, "--port", str(options.port))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="./dev demo", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--dir", type=Path, default=Path("demo/bank"))
    return parser


def instructions(root: Path, base: str) -> str:
    """What the demo prints before it serves at `base`: a token and the curl lines to try."""
    from fluvius.cli.token import parse_duration
    from fluvius.fastapi.auth import mint_token
    from fluvius.project import Project

    settings = Project.find(root).settings()
    token = mint_token(settings, "demo-teller", (ROLE,), ttl=parse_duration(TOKEN_TTL))
    opening = {"owner": "ann", "initial_deposit": "100", "opened_on": dt.date.today().isoformat()}
    lines = [
        "",
        f"The bank service: {base}  (OpenAPI: {base}/docs)",
        f"A {ROLE} token, valid {TOKEN_TTL} "
        f"(more with: fluvius token --project {root} --sub u1 --role {ROLE}):",
        "",
        f"  export TOKEN={token}",
        "",
        "Open an account (its id in $A), then list the accounts:",
        "",
        f"  A=$(curl -s -X POST {base}/banking:open-account/account/:new \\",
        '       -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\',
        f"       -d {shlex.quote(json.dumps(opening))} | {ID_OF_REPLY})",
        f'  curl -s {base}/banking.account/ -H "Authorization: Bearer $TOKEN"',
        "",
        "Follow the account live (server-sent events, in the background), then deposit to it:",
        "",
        f"  curl -N {base}/banking.account/$A/events?follow=true {AUTHORIZATION} &",
        f"  curl -s -X POST {base}/banking:deposit/account/$A {AUTHORIZATION} "
        '-H "Content-Type: application/json" -d \'{"amount": "5"}\'',
        "",
        'Browsers use the WebSocket /live (docs/http-api.md, "Live").',
        "",
    ]
    return "\n".join(lines)


def _stream_instructions(root: Path) -> str:
    """How to watch the `money` stream; it goes to a local NATS server when one answers and no
    other URL is set."""
    import os
    import socket

    from fluvius_cli.project import Project

    url = Project.find(root).settings().extra.get(STREAM_SETTING)
    if url is None:
        try:
            socket.create_connection(("127.0.0.1", 4222), timeout=0.5).close()
        except OSError:
            return (
                f"The money stream is off: set {STREAM_SETTING} (nats://, amqp://, redis://, "
                "mqtt:// or https://) to publish deposits and withdrawals; see docs/streams.md.\n"
            )
        url = os.environ[STREAM_SETTING] = NATS_URL
    lines = [f"The money stream publishes each deposit and withdrawal to {url}. Watch it:", ""]
    if url.startswith("nats://"):
        lines += ["  nats sub 'bank.money.>'      # the nats CLI, or with Python:", ""]
        lines += WATCH_NATS.format(url=url).splitlines()
    else:
        lines.append("  with your broker's client; docs/streams.md says where it goes")
    lines += ["", "  fluvius workers --project " + str(root) + "   # its lag and dead letters", ""]
    return "\n".join(lines)


def _fluvius(*arguments: str) -> None:
    """Run a fluvius verb; stop the demo when it fails."""
    try:
        application()(list(arguments), standalone_mode=False)
    except SystemExit as exit_:
        if exit_.code:
            raise


if __name__ == "__main__":
    main()
