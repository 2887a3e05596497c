"""The archive on PostgreSQL, for teams past one machine: groundwork for `storage.url` (issue 18, part 2).

    pool = connect("postgresql://veille@db.example/veille")     # a psycopg_pool.ConnectionPool, migrated
    with pool.connection() as conn:
        articles.store(conn, item)
        search.search(conn, "cloud souverain NOT football")
        ids = outbox.claim_pending(conn, limit=20)              # FOR UPDATE SKIP LOCKED

Done here, tested against a real server (tests/test_postgres.py):
- schema: SQLite's tables in PostgreSQL types, numbered migrations recorded in `_migrations` (schema);
- full-text search with unaccent, French stems and words as written, title above text, a GIN index, the
  topics' query language as a tsquery (tsquery: what NEAR approximates), ts_rank_cd and ts_headline (search);
- storing articles once (by URL, GUID or text) (articles); matches and their alerts in one transaction,
  claims taken FOR UPDATE SKIP LOCKED, leases, sent and released alerts (outbox).

What wiring it behind the storage port still needs: `storage.url` in storage.config and the port's
`Archive` choosing this backend (its writer thread and read pool map to this pool's connections); every
function of storage/*.py without a counterpart here yet (stories and their MinHash bands, boilerplate,
updating a held article, the outbox's pending, retries, failures, orphans and counts, chats, topics,
health, trends); psycopg's errors mapped to storage's own (busy, full...); `veille archive copy --to
postgresql://...`; `veille serve` saying that Datasette reads SQLite only; the contract tests and the
end-to-end test run on both backends.
"""

from storage.postgres.db import connect, iso
from storage.postgres.schema import MIGRATIONS, migrate

__all__ = ["MIGRATIONS", "connect", "iso", "migrate"]
