"""Canonical URLs: one spelling per article, whatever tracking parameters a feed adds.

    canonical_url("HTTPS://Example.fr:443/a?b=2&utm_source=rss&a=1#top") == "https://example.fr/a?a=1&b=2"

A page's own `<link rel="canonical">` (or `og:url`) wins over the feed's link when it is on the same site:
`article_url()` picks which.
"""

import functools
import re
from collections.abc import Iterable
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

import tldextract
from w3lib.url import canonicalize_url

TRACKING = re.compile(r"^(utm_.*|at_.*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|xtor|xtref|_hsenc|_hsmi"
                      r"|ref_src|cmpid|ns_campaign|ns_mchannel|ns_source|ns_linkname|ns_fee|yclid|igshid)$",
                      re.IGNORECASE)

_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")

# the public suffix list bundled with tldextract: never fetched at run time
_DOMAINS = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def tracking_params(names: Iterable[str]) -> frozenset[str]:
    """The configured extra tracking parameter names, as `canonical_url` compares them."""
    return frozenset(name.strip().lower() for name in names if name.strip())


@functools.lru_cache(maxsize=8192)  # a page's URL is asked for by its feed entry, its fetch and its item
def canonical_url(url: str, extra_tracking: frozenset[str] = frozenset()) -> str:
    """The URL with lower-case scheme and host, no default port, no fragment, a sorted query, and no
    tracking parameters (utm_*, fbclid, gclid, xtor, at_*, ... and `extra_tracking`).

    Never raises: a URL that cannot be split (an unclosed IPv6 bracket) is kept as written, and a port
    that is not a number is kept as written after the host.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not TRACKING.match(k) and k.lower() not in extra_tracking]
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 address keeps its brackets
        host = f"[{host}]"
    # a % that starts no escape is a literal one: escaped, so that decoding `%2%31` cannot make a new `%21`
    path = _LONE_PERCENT.sub("%25", parts.path) or "/"
    if not host:  # a path starting with // would read as a host: here, and once w3lib has resolved its dots
        path = "/" + path.lstrip("/")
    canonical = canonicalize_url(urlunsplit((parts.scheme.lower(), host, path, urlencode(query), "")),
                                 keep_fragments=False)
    split = urlsplit(canonical)
    if port := _port(parts):  # added after w3lib, which cannot read a port that is not a number
        split = split._replace(netloc=f"{split.netloc}:{port}")
    if not split.netloc and split.path.startswith("//"):
        split = split._replace(path="/" + split.path.lstrip("/"))
    return urlunsplit(split) if port or split.path != urlsplit(canonical).path else canonical


def _port(parts: SplitResult) -> str:
    """The port as written, or '' for none or the scheme's default one."""
    hostport = parts.netloc.rpartition("@")[2]
    written = hostport.partition("]")[2] if hostport.startswith("[") else hostport
    port = written.partition(":")[2].strip()
    try:
        number = parts.port
    except ValueError:
        return port
    return "" if number is None or number == {"http": 80, "https": 443}.get(parts.scheme.lower()) else str(number)


def _split(url: str) -> SplitResult | None:
    try:
        return urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket
        return None


def site(url: str) -> str:
    """The site a URL belongs to: its registrable domain (lemonde.fr for www.lemonde.fr), else its host."""
    if (parts := _split(url)) is None:
        return ""
    return _site_of_host((parts.hostname or "").lower())


@functools.lru_cache(maxsize=4096)
def _site_of_host(host: str) -> str:
    """The registrable domain of a host, else the host (asked for every article page: cached by host)."""
    domain = _DOMAINS(host)
    if domain.suffix and domain.domain:
        return f"{domain.domain}.{domain.suffix}".lower()
    return host


def same_site(a: str, b: str) -> bool:
    """Whether two URLs are on the same site (www.x.fr and amp.x.fr are; x.fr and y.fr are not)."""
    return bool(site(a)) and site(a) == site(b)


def article_url(link: str, page_canonical: str | None, extra_tracking: frozenset[str] = frozenset()) -> str:
    """An article's canonical URL: the page's declared canonical when it is an http(s) URL on the same
    site as the link (a page cannot claim another site's article), else the link's.

    A canonical pointing at the site's home page is ignored: some sites declare it on every page, and
    taking it would make all their articles one.
    """
    declared = _split(page_canonical) if page_canonical else None
    read = _split(link)
    if page_canonical and declared and read and declared.scheme in ("http", "https") \
            and same_site(link, page_canonical) and (declared.path.strip("/") or not read.path.strip("/")):
        return canonical_url(page_canonical, extra_tracking)
    return canonical_url(link, extra_tracking)
