"""config.yaml: assembled from the sections each room owns, with errors that name the bad key.

    ConfigError("sources[3].feed: Input should be a valid URL, relative URL without a base")
"""

import difflib
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alerts.config import AlertsConfig, TelegramConfig, Topic
from crawler.config import CrawlConfig, Source
from storage.config import DedupConfig, StorageConfig


class ConfigError(Exception):
    """A config file that cannot be used; `problems` holds one line per bad key."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(problems))
        self.path = path
        self.problems = problems


class Config(BaseModel):
    """The whole of config.yaml."""

    model_config = ConfigDict(extra="forbid")

    storage: StorageConfig = Field(default_factory=StorageConfig)
    crawl: CrawlConfig = Field(default_factory=CrawlConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    sources: list[Source] = Field(default_factory=list)
    topics: list[Topic] = Field(default_factory=list)


def _all_keys(model: type[BaseModel]) -> set[str]:
    keys = set(model.model_fields)
    for field in model.model_fields.values():
        for inner in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                keys |= _all_keys(inner)
    return keys


KNOWN_KEYS = _all_keys(Config)


def key_path(loc: tuple[int | str, ...]) -> str:
    """('sources', 3, 'feed') → 'sources[3].feed'."""
    out = ""
    for part in loc:
        if isinstance(part, str) and not (part.isprintable() and part.strip() == part and part):
            part = repr(part)  # a key with a line break or blanks: shown as one quoted line
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _describe(error: Any) -> str:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    if error["type"] == "extra_forbidden":
        hint = difflib.get_close_matches(str(loc[-1]), KNOWN_KEYS, n=1)
        return f"{key_path(loc)}: unknown key" + (f" (did you mean {hint[0]!r}?)" if hint else "")
    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return f"{key_path(loc)}: {message}"


def _duplicates(config: Config) -> list[str]:
    problems = []
    sections = {"sources": [s.name for s in config.sources], "topics": [t.name for t in config.topics]}
    for section, names in sections.items():
        counts = Counter(names)
        for i, name in enumerate(names):
            if counts[name] > 1 and names.index(name) != i:
                problems.append(f"{section}[{i}].name: duplicate name {name!r} (first at {section}"
                                f"[{names.index(name)}])")
    return problems


def _unknown_sources(config: Config) -> list[str]:
    names = {s.name for s in config.sources}
    return [f"topics[{i}].sources: unknown source {name!r} in topic {topic.name!r}"
            + (f" (did you mean {hint[0]!r}?)" if (hint := difflib.get_close_matches(name, names, n=1)) else "")
            for i, topic in enumerate(config.topics) for name in topic.sources if name not in names]


def parse(data: object, path: Path) -> Config:
    """Validate already-loaded YAML data; raise ConfigError listing every problem by key path."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, ["(top level): expected a mapping of sections (storage, crawl, sources, ...)"])
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(path, [_describe(e) for e in exc.errors()]) from None
    if problems := _duplicates(config) + _unknown_sources(config):
        raise ConfigError(path, problems)
    if not config.storage.path.is_absolute():
        config.storage.path = path.parent / config.storage.path
    return config


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    """Where and why the YAML cannot be read, in one line."""
    mark = getattr(exc, "problem_mark", None)
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML refuses: no mark, a message of two lines
        before = text[:exc.position]
        where = f"line {before.count(chr(10)) + 1}, column {len(before.rpartition(chr(10))[2]) + 1}: "
    else:
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = getattr(exc, "problem", None) or str(exc).partition("\n")[0]
    return f"{where}not valid YAML: {' '.join(str(problem).split())}"


def load(path: str | Path) -> Config:
    """Read and validate a config file; raise ConfigError with one line per problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [f"cannot read the file: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(path, [_yaml_problem(exc, text)]) from None
    return parse(data, path)
