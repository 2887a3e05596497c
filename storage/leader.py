"""One leader among several processes (the bot: Telegram allows one getUpdates consumer), held through the
archive's own engine, and freed by it when the leader dies, however it dies.

    leader = candidate(path, url)     # SQLite: an flock on `<archive>.leader`; PostgreSQL: an advisory lock
    leader.try_lead()                 # True while this process leads (ask again: it is cheap when it does)
    leader.resign()                   # on a clean stop: another candidate leads at its next try

On SQLite the lock is a kernel file lock (flock) on a file next to the archive, freed when the process exits
or is killed: it holds among processes of one machine, as the SQLite archive does. On PostgreSQL it is a
session advisory lock on a connection of its own (storage.postgres.leader), which the server frees when the
connection closes, a kill -9 included.
"""

import fcntl
from pathlib import Path
from typing import IO, Protocol

from storage.errors import StorageError


class Leadership(Protocol):
    def try_lead(self) -> bool:
        """True if this process leads now (it took the lock, or holds it still)."""

    def resign(self) -> None:
        """Let the lock go, if held."""


class FileLeadership:
    """Leadership over an SQLite archive: an exclusive flock on a file next to it, held while open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._held: IO[bytes] | None = None

    def try_lead(self) -> bool:
        if self._held is not None:
            return True
        try:
            file = self.path.open("ab")
        except OSError as exc:
            raise StorageError(f"cannot open {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by another process
            file.close()
            return False
        self._held = file
        return True

    def resign(self) -> None:
        if self._held is not None:
            self._held.close()  # closing the file frees the lock
            self._held = None


def candidate(path: str | Path, url: str | None = None, *, name: str = "bot") -> Leadership:
    """A candidate for the leadership called `name` over the archive at `path`, or on the PostgreSQL
    server at `url` when one is given."""
    if url:
        from storage.postgres.leader import AdvisoryLeadership

        return AdvisoryLeadership(url, name)
    path = Path(path)
    return FileLeadership(path.with_name(f"{path.name}.{name}-leader"))
