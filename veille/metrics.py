"""Prometheus metrics for `veille run --metrics-port`: crawls, items, errors, alerts, outbox backlog."""

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

REGISTRY = CollectorRegistry()
CRAWLS = Counter("veille_crawls", "Crawls run, by source", ["source"], registry=REGISTRY)
CRAWL_ERRORS = Counter("veille_crawl_errors", "Crawls that failed, by source", ["source"], registry=REGISTRY)
ITEMS = Counter("veille_items_seen", "Articles seen, by source", ["source"], registry=REGISTRY)
ITEMS_NEW = Counter("veille_items_new", "Articles new to the archive, by source", ["source"], registry=REGISTRY)
ALERTS_SENT = Counter("veille_alerts_sent", "Alerts accepted by Telegram or printed", registry=REGISTRY)
ALERTS_FAILED = Counter("veille_alerts_failed", "Alerts given up on", registry=REGISTRY)
BACKLOG = Gauge("veille_outbox_backlog", "Alerts waiting in the outbox", registry=REGISTRY)
LAST_CRAWL = Gauge("veille_last_crawl_timestamp", "Unix time of the last crawl, by source", ["source"],
                   registry=REGISTRY)


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Expose the metrics on http://host:port/metrics (a thread of prometheus-client)."""
    start_http_server(port, addr=host, registry=REGISTRY)
