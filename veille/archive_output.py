"""How archive commands present what storage found: a rich table, CSV, JSON lines, a trends chart.

Pure formatting: every function takes rows and returns text or bytes, the CLI writes them.
"""

import csv
import io
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import TYPE_CHECKING, Any

from storage.fields import printable
from storage.search import MARK_END, MARK_START
from storage.units import parse_duration

if TYPE_CHECKING:
    from rich.text import Text

RESULT_FIELDS = ["url", "title", "source", "published", "language", "outlets", "snippet"]


def when(value: str) -> str:
    """An ISO date or datetime, or a period back from now (`7d`, `2w`, `6mo`, `1y`), as an ISO string."""
    text = value.strip()
    try:
        return (date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)).isoformat()
    except ValueError:
        pass
    lowered = text.lower()
    try:
        if lowered.endswith("y") and lowered[:-1].isdigit():
            delta = timedelta(days=365 * int(lowered[:-1]))
        elif lowered.endswith("mo") and lowered[:-2].isdigit():
            delta = timedelta(days=30 * int(lowered[:-2]))
        else:
            delta = parse_duration(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a date: write 2025-03-01, or 7d, 2w, 6mo, 1y back from now") from None
    return (datetime.now(UTC) - delta).replace(microsecond=0).isoformat()


def marked(snippet: str) -> "Text":
    """A snippet with the hits (between the FTS5 marks) in bold, markup-safe."""
    from rich.text import Text  # rich only for a terminal: piped or --json output starts without it

    out = Text()
    rest = snippet or ""
    while MARK_START in rest and MARK_END in rest.split(MARK_START, 1)[1]:
        before, after = rest.split(MARK_START, 1)
        hit, rest = after.split(MARK_END, 1)
        out.append(before)
        out.append(hit, style="bold yellow")
    out.append(rest)
    return out


def shown(row: dict[str, Any]) -> dict[str, Any]:
    """A row fit for a terminal or a file: no control characters in any text (an ESC in a title would
    drive the reader's terminal: colours, clear screen, a clipboard write), whatever the archive holds."""
    return {k: printable(v) if isinstance(v, str) else v for k, v in row.items()}


# what a spreadsheet runs as a formula when a cell begins with it (=HYPERLINK(...), +cmd|..., @SUM...)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula: text beginning like one gets a leading quote."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def one_line(text: str | None) -> str:
    """Text with its runs of spaces, tabs and newlines as one space, for a cell or a line of output."""
    return " ".join((text or "").split())


def also_in(outlets: int) -> str:
    """`also in 2 other outlets`, or '' for a story only one source carried."""
    others = outlets - 1
    return f"also in {others} other outlet{'s' if others > 1 else ''}" if others > 0 else ""


def results_table(rows: list[dict[str, Any]], width: int | None = None, timezone: str = "UTC") -> str:
    """Search results as a table for a terminal, dated in `timezone`."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from alerts.format import ISO_DAY, local_time

    table = Table(show_lines=True, expand=True)
    table.add_column("date", no_wrap=True, min_width=10)
    table.add_column("source", ratio=1, overflow="fold")
    table.add_column("article", ratio=6, overflow="fold")
    for r in map(shown, rows):
        article = Text().append(one_line(r["title"]) or "(no title)", style="bold")
        article.append("\n").append(r["url"], style=f"link {r['url']} cyan")
        for line in (marked(one_line(r.get("snippet"))), Text(also_in(r.get("outlets", 1)), style="dim")):
            if line:
                article.append("\n").append_text(line)
        table.add_row(local_time(r["published"], timezone, ISO_DAY), r["source"], article)
    console = Console(file=io.StringIO(), width=width, force_terminal=True)
    console.print(table)
    return console.file.getvalue()  # type: ignore[attr-defined]


def results_lines(rows: list[dict[str, Any]], timezone: str = "UTC") -> str:
    """Search results as plain lines, for a pipe or a file: date, source, title, then link, snippet, outlets."""
    from alerts.format import ISO_DAY, local_time

    out = []
    for r in map(shown, rows):
        lines = [f"{local_time(r['published'], timezone, ISO_DAY):10}  {r['source']:<16} {one_line(r['title'])}",
                 r["url"], one_line(r.get("snippet")), also_in(r.get("outlets", 1))]
        out.append("\n".join(lines[:1] + [f"{'':12}{line}" for line in lines[1:] if line]) + "\n")
    return "\n".join(out)


def to_csv(rows: Iterable[dict[str, Any]], fields: list[str]) -> Iterable[str]:
    """CSV text, header first, one chunk per row (for streaming a whole archive); text cells printable and
    neutralised where a spreadsheet would run them as a formula."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: spreadsheet_safe(v) for k, v in shown(row).items()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def to_jsonl(rows: Iterable[dict[str, Any]]) -> Iterable[str]:
    """One JSON object per line."""
    for row in rows:
        yield json.dumps(shown(row), ensure_ascii=False) + "\n"


def trends_table(data: dict[str, dict[str, int]]) -> str:
    """The trends series as plain text columns: period, then one column per topic."""
    topics = list(data)
    periods = sorted({p for counts in data.values() for p in counts})
    lines = ["\t".join(["period", *topics])]
    lines += ["\t".join([p, *(str(data[t].get(p, 0)) for t in topics)]) for p in periods]
    return "\n".join(lines)


MARKERS, DASHES = "osD^vPX*", ("-", "--", ":", "-.")


def trends_figure(data: dict[str, dict[str, int]], by: str) -> Any:
    """A matplotlib figure (Agg, no display needed) of stories per period, one line per topic."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(10, 4.5), layout="constrained")
    axes = figure.add_subplot()
    for i, (topic, counts) in enumerate(data.items()):
        days: list[Any] = [date.fromisoformat(p) for p in counts]
        # each line its own marker and dash, drawn thinner than the one before: equal series stay visible
        axes.plot(days, list(counts.values()), label=topic, marker=MARKERS[i % len(MARKERS)],
                  linestyle=DASHES[i % len(DASHES)], markersize=max(3.0, 9 - 1.5 * i),
                  linewidth=max(1.0, 3 - 0.5 * i))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # stories come whole
    axes.set_ylim(bottom=0)
    axes.set_ylabel(f"stories per {by}")
    axes.set_title("veille: attention over time")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.autofmt_xdate()
    return figure


def trends_png(data: dict[str, dict[str, int]], by: str) -> bytes:
    """The chart as a PNG image."""
    out = io.BytesIO()
    trends_figure(data, by).savefig(out, format="png", dpi=100)
    return out.getvalue()


def trends_html(data: dict[str, dict[str, int]], by: str) -> str:
    """A self-contained HTML page: the chart as inline SVG and the series as a table."""
    svg = io.StringIO()
    trends_figure(data, by).savefig(svg, format="svg")
    chart = svg.getvalue()
    chart = chart[chart.index("<svg"):]
    topics = list(data)
    periods = sorted({p for counts in data.values() for p in counts})
    head = "".join(f"<th>{escape(t)}</th>" for t in topics)
    body = "".join(f"<tr><td>{p}</td>" + "".join(f"<td>{data[t].get(p, 0)}</td>" for t in topics) + "</tr>"
                   for p in periods)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>veille trends</title></head><body>"
            f"<h1>Stories per {escape(by)}</h1>{chart}<table><thead><tr><th>{escape(by)}</th>{head}</tr>"
            f"</thead><tbody>{body}</tbody></table></body></html>")
