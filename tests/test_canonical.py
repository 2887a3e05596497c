"""Canonical URLs: one spelling per article."""

from crawler.canonical import article_url, canonical_url, same_site, tracking_params


def test_scheme_host_case_default_port_fragment_and_query_order_are_normalised() -> None:
    assert canonical_url("HTTPS://Example.FR:443/a/b?z=1&a=2#comments") == "https://example.fr/a/b?a=2&z=1"
    assert canonical_url("http://example.fr:80") == "http://example.fr/"
    assert canonical_url("http://example.fr:8080/x") == "http://example.fr:8080/x"


def test_tracking_parameters_are_dropped_and_others_kept() -> None:
    url = ("https://example.fr/a?id=7&utm_source=rss&utm_medium=feed&fbclid=x&gclid=y&xtor=RSS-3"
           "&at_medium=z&page=2")
    assert canonical_url(url) == "https://example.fr/a?id=7&page=2"


def test_configured_tracking_parameters_are_dropped_too() -> None:
    url = "https://example.fr/a?id=7&from=newsletter&Origine=flux"
    assert canonical_url(url) == "https://example.fr/a?Origine=flux&from=newsletter&id=7"
    extra = tracking_params(["from", " origine "])
    assert canonical_url(url, extra) == "https://example.fr/a?id=7"


def test_same_site_is_the_registrable_domain() -> None:
    assert same_site("https://www.lemonde.fr/a", "https://amp.lemonde.fr/b")
    assert not same_site("https://www.lemonde.fr/a", "https://www.lefigaro.fr/a")
    assert not same_site("https://alice.github.io/a", "https://bob.github.io/a")
    assert same_site("http://127.0.0.1:5000/a", "http://127.0.0.1:5000/b")


def test_the_pages_canonical_wins_only_on_the_same_site() -> None:
    link = "https://www.example.fr/2024/article?utm_source=rss"
    assert article_url(link, "https://example.fr/article#top") == "https://example.fr/article"
    assert article_url(link, "https://elsewhere.com/article") == "https://www.example.fr/2024/article"
    assert article_url(link, None) == "https://www.example.fr/2024/article"
    assert article_url(link, "javascript:void(0)") == "https://www.example.fr/2024/article"


def test_a_canonical_pointing_at_the_home_page_is_ignored() -> None:
    link = "https://www.example.fr/2024/article"
    assert article_url(link, "https://www.example.fr/") == link
    assert article_url(link, "https://www.example.fr") == link
