"""The item a spider yields for each article, handed by the pipeline to storage."""

from dataclasses import dataclass, field, fields
from typing import Any

from crawler.bylines import clean_author


@dataclass
class ArticleItem:
    """One article as found: where, what it says, and whether the text is the page's (full_text)."""

    source: str
    url: str
    canonical_url: str
    title: str
    text: str
    guid: str | None = None
    author: str | None = None
    published: str | None = None
    language: str | None = None
    full_text: bool = True
    aliases: list[str] = field(default_factory=list)  # other canonical URLs it is known under (the feed's link)
    run: Any = field(default=None, repr=False, compare=False)  # the crawl it came from (crawler.run.Run), not stored

    def __post_init__(self) -> None:
        # a page's or a feed's byline ("Par Jeanne Martin, le 02/12/2026") kept as the names it gives
        self.author = clean_author(self.author)

    def as_row(self) -> dict[str, Any]:
        """The item as a mapping of article fields for storage."""
        row = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "run"}
        row["aliases"] = list(self.aliases)
        return row
