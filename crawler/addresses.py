"""Where article links may lead: the private-network policy, as pure functions.

A hostile feed must not turn the crawler against the network it runs in. A source that admins wrote in
config is trusted as written; the links it hands out (articles, next pages, child sitemaps, and every
redirect hop) may reach public addresses only, unless the source itself sits on a private or loopback
host: then they may reach that same host only.
"""

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

WEB_SCHEMES = frozenset({"http", "https"})


def is_public(address: str) -> bool:
    """Whether an IP address is globally routable (not private, loopback, link-local, shared, reserved...)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class Reach:
    """Where a source's links may go: public addresses, or (for a private source) its own host only."""

    own_host: str | None = None

    @classmethod
    def of_source(cls, host: str, addresses: list[str]) -> "Reach":
        """The reach of a source whose host resolves to `addresses`."""
        return cls(own_host=host.lower()) if any(not is_public(a) for a in addresses) else cls()


def refusal(url: str, addresses: list[str], reach: Reach) -> str | None:
    """Why a link must not be fetched (its host resolving to `addresses`), or None when it may be."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in WEB_SCHEMES:
        return f"refused {url}: only http(s) links are followed"
    host = (parts.hostname or "").lower()
    if reach.own_host is not None:
        return None if host == reach.own_host else \
            f"refused {url}: a source on a private host may only link to that host ({reach.own_host})"
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
