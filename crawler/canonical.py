"""Canonical URLs: one spelling per article, whatever tracking parameters a feed adds."""

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

TRACKING = re.compile(r"^(utm_.*|at_.*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|xtor|xtref|_hsenc|_hsmi"
                      r"|ref_src|cmpid|ns_campaign|ns_mchannel|ns_source|ns_linkname|ns_fee|yclid|igshid)$",
                      re.IGNORECASE)


def canonical_url(url: str, extra_tracking: frozenset[str] = frozenset()) -> str:
    """The URL with lower-case scheme and host, no default port, no fragment, a sorted query, and no
    tracking parameters (utm_*, fbclid, gclid, xtor, at_*, ... and `extra_tracking`)."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not TRACKING.match(k) and k.lower() not in extra_tracking]
    host = (parts.hostname or "").lower()
    default_port = {"http": 80, "https": 443}.get(parts.scheme.lower())
    if parts.port and parts.port != default_port:
        host = f"{host}:{parts.port}"
    cleaned = urlunsplit((parts.scheme.lower(), host, parts.path or "/", urlencode(query), ""))
    return canonicalize_url(cleaned, keep_fragments=False)
