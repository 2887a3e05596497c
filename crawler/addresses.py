"""Where article links may lead: the private-network policy, as pure functions.

A hostile feed must not turn the crawler against the network it runs in. A source that admins wrote in
config is trusted as written; the links it hands out (articles, next pages, child sitemaps, and every
redirect hop) may reach public addresses only, unless the source itself sits on a private or loopback
host: then they may reach that same origin only (scheme, host and port: another port of the news host
is another service, an internal one).

A public address is a global unicast one; for IPv6 that excludes every form that embeds or maps an IPv4
address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`, Teredo),
site-local `fec0::/10` and whatever lies outside `2000::/3`.
"""

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

WEB_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
_TUNNELS = (ipaddress.ip_network("2002::/16"), ipaddress.ip_network("2001::/32"))  # 6to4, Teredo: IPv4 inside


def is_public(address: str) -> bool:
    """Whether an IP address is globally routable (not private, loopback, link-local, shared, reserved, nor
    an IPv6 form of an IPv4 address...)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public(str(ip.ipv4_mapped))
        if ip not in _GLOBAL_UNICAST or any(ip in net for net in _TUNNELS):
            return False
    return ip.is_global and not ip.is_multicast


Origin = tuple[str, str, int]


def origin(url: str) -> Origin | None:
    """A URL's (scheme, host, port), the port made explicit; None for a URL without one (a bad port)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    return (scheme, (parts.hostname or "").lower(), port) if port else None


@dataclass(frozen=True)
class Reach:
    """Where a source's links may go: public addresses, or (for a private source) its own origin only."""

    own: Origin | None = None

    @property
    def own_host(self) -> str | None:
        """The private source's host, which its links may reach (on its own scheme and port)."""
        return self.own[1] if self.own else None

    @classmethod
    def of_source(cls, url: str, addresses: list[str]) -> "Reach":
        """The reach of a source at `url`, whose host resolves to `addresses`."""
        return cls(own=origin(url)) if any(not is_public(a) for a in addresses) else cls()


def refusal(url: str, addresses: list[str], reach: Reach) -> str | None:
    """Why a link must not be fetched (its host resolving to `addresses`), or None when it may be."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in WEB_SCHEMES:
        return f"refused {url}: only http(s) links are followed"
    host = (parts.hostname or "").lower()
    if reach.own is not None:
        scheme, own_host, port = reach.own
        return None if origin(url) == reach.own else \
            f"refused {url}: a source on a private host may only link to that host ({scheme}://{own_host}:{port})"
    if not addresses:
        return f"refused {url}: {host} has no address"
    private = [a for a in addresses if not is_public(a)]
    if private:
        return f"refused {url}: {host} resolves to a non-public address ({private[0]})"
    return None


def answer_refusal(name: str, address: str, trusted_hosts: set[str] | frozenset[str]) -> str | None:
    """Why a DNS answer must not be connected to (a non-public address for an untrusted name), or None."""
    if is_public(address) or name.lower() in trusted_hosts:
        return None
    return f"refused: {name} resolves to a non-public address ({address})"
