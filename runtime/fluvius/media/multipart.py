"""The file part of a multipart/form-data body, streamed: its name, declared type and bytes."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from python_multipart.multipart import MultipartParser, parse_options_header


class FormError(ValueError):
    """The body is not multipart/form-data with a file part."""


class FilePart:
    """Reads a multipart body as it arrives and yields the bytes of its first file part; its
    `filename` and `content_type` are known once the first bytes come."""

    def __init__(self, content_type: str) -> None:
        _, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if not boundary:
            raise FormError("a multipart body needs a boundary")
        self.filename: str | None = None
        self.content_type: str | None = None
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._pending: list[bytes] = []
        self._state = "before"  # before the file part, in it, or after it
        self._parser = MultipartParser(
            boundary,
            {
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
            },
        )

    async def chunks(self, body: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        """The file part's bytes, read from `body`."""
        async for chunk in body:
            self._parser.write(chunk)
            for piece in self._pending:
                yield piece
            self._pending.clear()
        self._parser.finalize()
        if self._state == "before":
            raise FormError("the form has no file part (a part with a filename)")

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if self._state == "before" and b"filename" in options:
            self._state = "in"
            self.filename = options[b"filename"].decode(errors="replace")
            declared = self._headers.get(b"content-type")
            self.content_type = declared.decode(errors="replace") if declared else None
        self._headers = {}

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._state == "in":
            self._pending.append(data[start:end])

    def _on_part_end(self) -> None:
        if self._state == "in":
            self._state = "after"
