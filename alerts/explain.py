"""Why a rule matched an article or not, and its hits shown in context: what `veille topics` prints."""

from collections.abc import Sequence
from typing import Any

from alerts.matcher import ArticleIndex, Hit, Rule, evaluate
from storage.query import AllOf, Near, Node, Not, Term
from storage.text import word_spans

CONTEXT_WORDS = 12


def highlight(text: str, hits: Sequence[Hit], field: str, mark: tuple[str, str] = ("[", "]")) -> str:
    """A few words around the first hit in `field`, every hit word there wrapped in `mark`."""
    spans = word_spans(text)
    marked = {h.position + k for h in hits if h.field == field for k in range(h.length)}
    marked = {p for p in marked if p < len(spans)}
    if not marked:
        return ""
    first = min(marked)
    lo, hi = max(first - CONTEXT_WORDS, 0), min(first + CONTEXT_WORDS, len(spans) - 1)
    out, cursor = [], spans[lo][0]
    for i in range(lo, hi + 1):
        start, end = spans[i]
        out.append(text[cursor:start])
        out.append(f"{mark[0]}{text[start:end]}{mark[1]}" if i in marked else text[start:end])
        cursor = end
    prefix = "… " if lo > 0 else ""
    suffix = " …" if hi < len(spans) - 1 else ""
    return prefix + " ".join("".join(out).split()) + suffix


def _where(hits: Sequence[Hit]) -> str:
    places: dict[str, list[str]] = {}
    for h in hits:
        places.setdefault(h.field, []).append(str(h.position + 1))
    return "; ".join(f"{field} word {', '.join(p[:5])}{' …' if len(p) > 5 else ''}"
                     for field, p in places.items())


def _label(node: Node) -> str:
    if isinstance(node, Term):
        kind = "exact phrase" if node.exact else "prefix" if node.prefix else "term"
        return f"{kind} {node.text!r}"
    if isinstance(node, Near):
        return f"NEAR({' '.join(t.text for t in node.terms)}, {node.distance})"
    if isinstance(node, Not):
        return "NOT"
    name = "all of" if isinstance(node, AllOf) else "any of"
    return node.label or name


def describe(node: Node, index: ArticleIndex, fields: Sequence[str], depth: int = 0) -> list[str]:
    """One line per node of the rule tree: whether it holds, and where its terms were found."""
    hits = evaluate(node, index, fields)
    mark = "yes" if hits is not None else "no "
    pad = "  " * depth
    if isinstance(node, Term | Near):
        where = f": found in {_where(hits)}" if hits else ": not found"
        return [f"{pad}{mark} {_label(node)}{where}"]
    if isinstance(node, Not):
        inner = describe(node.child, index, fields, depth + 1)
        return [f"{pad}{mark} NOT (must be absent)", *inner]
    children = node.children
    lines = [f"{pad}{mark} {_label(node)}"]
    for child in children:
        lines.extend(describe(child, index, fields, depth + 1))
    return lines


def explain(rule: Rule, article: dict[str, Any]) -> tuple[bool, list[str]]:
    """Whether the rule matches the article, and the lines that say why."""
    lines = []
    if rule.sources:
        lines.append(f"{'yes' if rule.covers_source(article) else 'no '} source {article.get('source')!r}"
                     f" is one of {', '.join(sorted(rule.sources))}")
    if rule.languages:
        lines.append(f"{'yes' if rule.covers_language(article) else 'no '} language"
                     f" {article.get('language') or 'unknown'} is one of {', '.join(sorted(rule.languages))}"
                     " (an unknown language is kept)")
    if not rule.covers(article):
        return False, [*lines, "the article is outside this topic's scope: its terms are not looked at"]
    text = article.get("matching_text", article.get("text")) or ""
    index = ArticleIndex(article.get("title") or "", text)
    lines.append(f"looking in: {', '.join(rule.fields)}")
    if len(text) < len(article.get("text") or ""):
        lines.append("left out: the paragraphs this site or sender repeats on every article (boilerplate)")
    lines.extend(describe(rule.tree, index, rule.fields))
    return rule.match(index) is not None, lines
