"""Whether a port is free to listen on, asked before a server starts rather than after."""

from __future__ import annotations

import errno
import socket


class PortTaken(OSError):
    """Another process listens on the address; the message says how to pick another port."""


def ensure_free(host: str, port: int, *, flag: str = "--port N") -> None:
    """Raise `PortTaken` when `host:port` cannot be listened on, naming `flag` as the way out."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: a port left in TIME_WAIT by an earlier server counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            raise PortTaken(
                f"port {port} on {host} is in use by another process: pick another with {flag}"
            ) from None
