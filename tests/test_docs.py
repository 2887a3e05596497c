"""Every config key and every command is documented in the README or docs/ (as Datasette checks its settings)."""

from pathlib import Path

import click
import pytest

from veille.cli import main
from veille.config import KNOWN_KEYS

ROOT = Path(__file__).parent.parent
DOCS = "\n".join(p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *sorted(ROOT.glob("docs/*.md"))])


def commands(group: click.Group, prefix: str = "veille") -> list[str]:
    found = []
    for name, command in group.commands.items():
        found.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            found.extend(commands(command, f"{prefix} {name}"))
    return found


@pytest.mark.parametrize("key", sorted(KNOWN_KEYS))
def test_config_key_is_documented(key: str) -> None:
    assert f"{key}:" in DOCS or f"`{key}`" in DOCS or f".{key}`" in DOCS, f"neither README.md nor docs/ explains {key}"


@pytest.mark.parametrize("command", commands(main))
def test_command_is_documented(command: str) -> None:
    assert f"`{command}" in DOCS, f"neither README.md nor docs/ mentions `{command}`"
