"""What the bot says, in French or English: Telegram HTML where every value is escaped."""

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from alerts.config import Topic
from alerts.format import TELEGRAM_LIMIT, local_time, telegram_length

# (command, French, English): the help text and the menu Telegram shows (setMyCommands)
COMMANDS = (
    ("topics", "les sujets et ceux que ce chat suit", "topics, and which ones this chat follows"),
    ("subscribe", "suivre un sujet : /subscribe SUJET", "follow a topic: /subscribe TOPIC"),
    ("unsubscribe", "ne plus suivre un sujet", "stop following a topic"),
    ("latest", "les derniers articles : /latest [SUJET] [N]", "latest stories: /latest [TOPIC] [N]"),
    ("search", "chercher dans les archives : /search REQUÊTE", "search the archive: /search QUERY"),
    ("mute", "suspendre les alertes : /mute 2h", "pause alerts: /mute 2h"),
    ("unmute", "reprendre les alertes", "resume alerts"),
    ("status", "état du service (administrateurs)", "service health (admins)"),
    ("help", "cette aide", "this help"),
)

TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "intro": "<b>veille</b> suit l'actualité du cloud souverain et du numérique français et européen, "
                 "et vous alerte ici quand un article touche un sujet que ce chat suit.",
        "refused": "Désolé, ce bot est réservé à ses abonnés. Demandez l'accès à son administrateur.",
        "slow_down": "Doucement : trop de commandes à la fois. Réessayez dans quelques secondes.",
        "hint": "Je ne comprends que les commandes. Essayez /help.",
        "unknown_command": "Commande inconnue : /{command}. Essayez /help.",
        "topics_header": "<b>Sujets</b>",
        "no_topics": "Aucun sujet n'est configuré.",
        "follows": "✅ suivi", "follows_config": "📌 suivi (configuration)", "not_followed": "non suivi",
        "usage_subscribe": "Indiquez un sujet : /{command} SUJET. Les sujets : {topics}",
        "unknown_topic": "Sujet inconnu : {topic}. Les sujets : {topics}",
        "subscribed": "Ce chat suit désormais « {topic} ».",
        "already_subscribed": "Ce chat suit déjà « {topic} ».",
        "unsubscribed": "Ce chat ne suit plus « {topic} ».",
        "not_subscribed": "Ce chat ne suit pas « {topic} ».",
        "config_chat": "Ce chat reçoit « {topic} » par la configuration : seul un administrateur peut l'en "
                       "retirer, dans config.yaml.",
        "group_admin_only": "Seuls les administrateurs du bot peuvent abonner ou désabonner un groupe.",
        "usage_latest": "Usage : /latest [SUJET] [N], N entre 1 et {max}.",
        "latest_none": "Aucun article trouvé pour l'instant.",
        "latest_header": "<b>Derniers articles</b>",
        "usage_search": "Indiquez ce que vous cherchez : /search cloud souverain",
        "search_syntax": "Je ne sais pas lire cette recherche. Écrivez des mots simples, une expression "
                         "entre guillemets (\"cloud de confiance\"), ou AND, OR, NOT entre deux mots. "
                         "Essayez : /search {suggestion}",
        "search_none": "Aucun résultat pour {query}.",
        "search_header": "<b>Résultats pour {query}</b> ({first}–{last})",
        "more": "Suite ▸",
        "search_expired": "Cette recherche a expiré : relancez /search.",
        "usage_mute": "Usage : /mute 2h (ou 30m, 1d ; au plus {max}).",
        "muted": "Alertes suspendues jusqu'au {until}. Elles vous attendent ; /unmute pour les reprendre.",
        "unmuted": "Les alertes reprennent.",
        "mute_admin_only": "Seuls les administrateurs de ce groupe peuvent suspendre ou reprendre ses alertes.",
        "button_invalid": "Ce bouton n'est plus valable.",
        "admins_only": "Cette commande est réservée aux administrateurs du bot.",
        "status_failing": "<b>Sources en échec</b> : {count}",
        "status_none_failing": "<b>Sources en échec</b> : aucune",
        "status_outbox": "<b>File d'envoi</b> : {pending} en attente, {failed} abandonnées, {sent} envoyées",
        "status_last_crawl": "<b>Dernière collecte</b> : {when}",
        "status_version": "<b>Version</b> : {version}",
        "never": "jamais",
        "error": "Un problème est survenu ; il a été noté. Réessayez plus tard.",
    },
    "en": {
        "intro": "<b>veille</b> follows news about sovereign cloud and French and European digital policy, "
                 "and alerts you here when an article touches a topic this chat follows.",
        "refused": "Sorry, this bot is for its subscribers only. Ask its administrator for access.",
        "slow_down": "Easy: too many commands at once. Try again in a few seconds.",
        "hint": "I only understand commands. Try /help.",
        "unknown_command": "Unknown command: /{command}. Try /help.",
        "topics_header": "<b>Topics</b>",
        "no_topics": "No topic is configured.",
        "follows": "✅ followed", "follows_config": "📌 followed (config)", "not_followed": "not followed",
        "usage_subscribe": "Name a topic: /{command} TOPIC. Topics: {topics}",
        "unknown_topic": "Unknown topic: {topic}. Topics: {topics}",
        "subscribed": "This chat now follows “{topic}”.",
        "already_subscribed": "This chat already follows “{topic}”.",
        "unsubscribed": "This chat no longer follows “{topic}”.",
        "not_subscribed": "This chat does not follow “{topic}”.",
        "config_chat": "This chat gets “{topic}” from the configuration: only an administrator can remove it, "
                       "in config.yaml.",
        "group_admin_only": "Only the bot's administrators may subscribe or unsubscribe a group.",
        "usage_latest": "Usage: /latest [TOPIC] [N], N between 1 and {max}.",
        "latest_none": "No story found yet.",
        "latest_header": "<b>Latest stories</b>",
        "usage_search": "Say what you are looking for: /search sovereign cloud",
        "search_syntax": "I cannot read this search. Write plain words, a phrase in quotes "
                         "(\"cloud de confiance\"), or AND, OR, NOT between two words. "
                         "Try: /search {suggestion}",
        "search_none": "Nothing found for {query}.",
        "search_header": "<b>Results for {query}</b> ({first}–{last})",
        "more": "More ▸",
        "search_expired": "This search has expired: run /search again.",
        "usage_mute": "Usage: /mute 2h (or 30m, 1d; at most {max}).",
        "muted": "Alerts paused until {until}. They will wait for you; /unmute to resume.",
        "unmuted": "Alerts resume.",
        "mute_admin_only": "Only this group's administrators may pause or resume its alerts.",
        "button_invalid": "This button is no longer valid.",
        "admins_only": "This command is for the bot's administrators.",
        "status_failing": "<b>Failing sources</b>: {count}",
        "status_none_failing": "<b>Failing sources</b>: none",
        "status_outbox": "<b>Outbox</b>: {pending} pending, {failed} given up, {sent} sent",
        "status_last_crawl": "<b>Last crawl</b>: {when}",
        "status_version": "<b>Version</b>: {version}",
        "never": "never",
        "error": "Something went wrong; it has been logged. Please try again later.",
    },
}

_WORDS = re.compile(r"[^\W_]+")
_HIT = re.compile(r"\[([^\[\]]*)\]")


def fit(lines: Sequence[str], limit: int = TELEGRAM_LIMIT - 96) -> str:
    """Join lines, leaving out the last ones (with a "…" line) when they would make too long a message."""
    kept: list[str] = []
    size = 0
    for line in lines:
        size += telegram_length(line) + 1
        if size > limit:
            kept.append("…")
            break
        kept.append(line)
    return "\n".join(kept)


def language(code: str | None) -> str:
    """English for users whose Telegram language is English, French otherwise."""
    return "en" if (code or "").lower().startswith("en") else "fr"


def say(lang: str, key: str, **values: Any) -> str:
    """The text `key` in `lang`, with every value HTML-escaped."""
    return TEXTS[lang][key].format(**{k: html.escape(str(v)) for k, v in values.items()})


def plain_query(query: str) -> str:
    """The words of a query FTS5 could not read, each quoted, so that they are searched for as they are."""
    return " ".join(f'"{word}"' for word in _WORDS.findall(query)) or '"veille"'


def html_to_plain(text: str) -> str:
    """The same text without its tags, for places that take no HTML (button answers)."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def help_text(lang: str) -> str:
    """What the bot does and its commands."""
    lines = [say(lang, "intro"), ""]
    lines += [f"/{name} — {html.escape(en if lang == 'en' else fr)}" for name, fr, en in COMMANDS]
    return "\n".join(lines)


def topics_text(lang: str, topics: Sequence[Topic], config_topics: set[str], subscribed: set[str]) -> str:
    """Each topic with its description and whether this chat follows it (from config or Telegram)."""
    if not topics:
        return say(lang, "no_topics")
    lines = [say(lang, "topics_header")]
    for topic in topics:
        state = ("follows_config" if topic.name in config_topics
                 else "follows" if topic.name in subscribed else "not_followed")
        description = f" — {html.escape(topic.description)}" if topic.description else ""
        lines.append(f"• <b>{html.escape(topic.name)}</b>{description} ({say(lang, state)})")
    return fit(lines)


def _link(row: Mapping[str, Any]) -> str:
    title = html.escape(row.get("title") or row["url"])
    return f'<a href="{html.escape(row["url"], quote=True)}">{title}</a>'


def _where_when(row: Mapping[str, Any], timezone: str) -> str:
    parts = [row.get("source") or "", local_time(row.get("published"), timezone)]
    return html.escape(", ".join(p for p in parts if p))


def latest_text(lang: str, rows: Iterable[Mapping[str, Any]], timezone: str) -> str:
    """The latest matched stories, one line each: link, source and date, topics."""
    lines = [say(lang, "latest_header")]
    for row in rows:
        topics = f" [{html.escape(row['topics'])}]" if row.get("topics") else ""
        lines.append(f"• {_link(row)} — {_where_when(row, timezone)}{topics}")
    return fit(lines) if len(lines) > 1 else say(lang, "latest_none")


def highlight(snippet: str) -> str:
    """An FTS snippet with its [hits] in bold, everything else escaped."""
    out, last = [], 0
    for hit in _HIT.finditer(snippet):
        out.append(html.escape(snippet[last:hit.start()]))
        out.append(f"<b>{html.escape(hit.group(1))}</b>")
        last = hit.end()
    out.append(html.escape(snippet[last:]))
    return "".join(out)


def search_text(lang: str, query: str, rows: Sequence[Mapping[str, Any]], offset: int, timezone: str) -> str:
    """One page of search results with their snippets."""
    if not rows:
        return say(lang, "search_none", query=query)
    lines = [say(lang, "search_header", query=query, first=offset + 1, last=offset + len(rows))]
    for number, row in enumerate(rows, start=offset + 1):
        lines.append(f"\n{number}. {_link(row)} — {_where_when(row, timezone)}")
        if row.get("snippet"):
            lines.append(f"<i>{highlight(row['snippet'])}</i>")
    return fit(lines)


def status_text(lang: str, sources: Mapping[str, Mapping[str, Any]], outbox: Mapping[str, int],
                version: str, timezone: str) -> str:
    """Version, outbox backlog, last crawl, then the failing sources (last, so that a long list is cut)."""
    attempts = [s["last_attempt"] for s in sources.values() if s.get("last_attempt")]
    failing = [s for s in sources.values() if s.get("consecutive_failures")]
    lines = [say(lang, "status_version", version=version),
             say(lang, "status_outbox", pending=outbox.get("pending", 0), failed=outbox.get("failed", 0),
                 sent=outbox.get("sent", 0)),
             say(lang, "status_last_crawl",
                 when=local_time(max(attempts), timezone) if attempts else TEXTS[lang]["never"]),
             say(lang, "status_failing", count=len(failing)) if failing else say(lang, "status_none_failing")]
    for source in failing:
        error = (source.get("last_error") or "")[:200]
        lines.append(f"• <b>{html.escape(source['name'])}</b> ×{int(source['consecutive_failures'])}: "
                     f"{html.escape(error)}")
    return fit(lines)
