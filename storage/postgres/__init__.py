"""The archive on PostgreSQL, for teams past one machine: `storage.url` in config.yaml (issue 18, part 2).

    storage:
      url: postgresql://veille@db.example:5432/veille    # the password from PGPASSWORD or ~/.pgpass

    archive = Archive.open(path, url=url)                   # a storage.postgres.archive.PostgresArchive
    await archive.write(outbox.claim, ids)                  # runs storage.postgres.outbox.claim(conn, ids)

The other rooms call the port with storage's functions as on SQLite; the archive runs the function of the
same name here (storage.X -> storage.postgres.X) with a connection of its pool (psycopg_pool), on its
writer thread or a reader thread, never on the event loop (archive). psycopg's errors come out as
storage's own (errors). Tested against a real server (tests/test_postgres.py, and the contract tests of
tests/test_storage_contract.py, run on both backends, which list the functions with no counterpart):
- schema: SQLite's tables in PostgreSQL types, numbered migrations recorded in `_migrations` (schema);
- full-text search with unaccent, French stems and words as written, title above text, a GIN index, the
  topics' query language as a tsquery (tsquery: what NEAR approximates), ts_rank_cd and ts_headline, and
  exports (search);
- storing articles once (by URL, GUID or text), updating one come back with a new title or text
  (articles); near-duplicate stories by MinHash signatures and LSH bands, with learnt boilerplate left out
  of what stories compare and topics match, as on SQLite (stories, boilerplate: storage.stories' own pure
  functions, PostgreSQL's SQL); matches and their alerts in one transaction, claims taken FOR UPDATE SKIP
  LOCKED, leases, retries, failures, orphans, counts (outbox); chats, topics' rules, health, trends, /latest;
  `veille archive copy --to postgresql://...` (copy).

`veille serve` reads SQLite only (Datasette) and says so.
"""

from storage.postgres.db import connect, iso
from storage.postgres.schema import MIGRATIONS, migrate

__all__ = ["MIGRATIONS", "connect", "iso", "migrate"]
