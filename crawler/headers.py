"""Response headers count against the limits: at most MAX_HEADER_BYTES and MAX_HEADER_LINES per response.

Neither Scrapy nor Twisted bounds a response's header section (Twisted only each line, at 16 KiB): a server
sending header lines for as long as it likes grew a crawl to 2.8 GB. Scrapy's HTTP/1.1 handler gives each
response's parser the class `_LenientHTTPClientParser` of its module (by name, once the parser is made);
`install()` puts this subclass in its place, which fails the response with HeadersTooLargeError (a one-line
reason in the source's error) as soon as the status line and headers pass either bound.
"""

from scrapy.core.downloader.handlers import http11
from twisted.web import _newclient

MAX_HEADER_BYTES = 64 * 1024  # browsers and servers stop at 8 to 64 KiB
MAX_HEADER_LINES = 200
_Lenient = http11._LenientHTTPClientParser


class HeadersTooLargeError(Exception):
    """A response whose header section passed MAX_HEADER_BYTES or MAX_HEADER_LINES."""


class BoundedHeadersParser(_Lenient):
    """Scrapy's response parser, counting the header lines (continuations included) and their bytes."""

    _header_bytes = 0
    _header_lines = 0

    def lineReceived(self, line: bytes) -> None:  # noqa: N802 (Twisted's name)
        if self.state == _newclient.HEADER:
            self._header_bytes += len(line) + 1
            self._header_lines += 1
            if self._header_bytes > MAX_HEADER_BYTES or self._header_lines > MAX_HEADER_LINES:
                limit = f"{MAX_HEADER_LINES} lines or {MAX_HEADER_BYTES // 1024} KiB"
                raise HeadersTooLargeError(f"its headers passed {limit}")
        super().lineReceived(line)


def install() -> None:
    """Have every HTTP/1.1 response of this process parsed within the bounds (idempotent)."""
    http11._LenientHTTPClientParser = BoundedHeadersParser  # type: ignore[misc]
