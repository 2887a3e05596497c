"""Canonical URLs: one spelling per article, whatever tracking parameters a feed adds.

    canonical_url("HTTPS://Example.fr:443/a?b=2&utm_source=rss&a=1#top") == "https://example.fr/a?a=1&b=2"

A page's own `<link rel="canonical">` (or `og:url`) wins over the feed's link when it is on the same site:
`article_url()` picks which.
"""

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import tldextract
from w3lib.url import canonicalize_url

TRACKING = re.compile(r"^(utm_.*|at_.*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|xtor|xtref|_hsenc|_hsmi"
                      r"|ref_src|cmpid|ns_campaign|ns_mchannel|ns_source|ns_linkname|ns_fee|yclid|igshid)$",
                      re.IGNORECASE)

# the public suffix list bundled with tldextract: never fetched at run time
_DOMAINS = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def tracking_params(names: Iterable[str]) -> frozenset[str]:
    """The configured extra tracking parameter names, as `canonical_url` compares them."""
    return frozenset(name.strip().lower() for name in names if name.strip())


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


def site(url: str) -> str:
    """The site a URL belongs to: its registrable domain (lemonde.fr for www.lemonde.fr), else its host."""
    parts = _DOMAINS(url)
    if parts.suffix and parts.domain:
        return f"{parts.domain}.{parts.suffix}".lower()
    return (urlsplit(url).hostname or "").lower()


def same_site(a: str, b: str) -> bool:
    """Whether two URLs are on the same site (www.x.fr and amp.x.fr are; x.fr and y.fr are not)."""
    return bool(site(a)) and site(a) == site(b)


def article_url(link: str, page_canonical: str | None, extra_tracking: frozenset[str] = frozenset()) -> str:
    """An article's canonical URL: the page's declared canonical when it is an http(s) URL on the same
    site as the link (a page cannot claim another site's article), else the link's.

    A canonical pointing at the site's home page is ignored: some sites declare it on every page, and
    taking it would make all their articles one.
    """
    if page_canonical and urlsplit(page_canonical).scheme in ("http", "https") \
            and same_site(link, page_canonical) \
            and (urlsplit(page_canonical).path.strip("/") or not urlsplit(link).path.strip("/")):
        return canonical_url(page_canonical, extra_tracking)
    return canonical_url(link, extra_tracking)
