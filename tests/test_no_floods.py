"""No floods: digests, quiet hours, the hourly cap and mutes, with the time given rather than waited for."""

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.config import AlertsConfig, ChatDelivery, DeliveryRules, Policy
from alerts.dispatcher import ConsoleSender, DispatchReport, dispatch, route
from alerts.format import Message
from alerts.schedule import Digest, QuietHours
from storage import articles, chats
from tests.conftest import port, write_config
from tests.outbox_helpers import archive, queue, states
from veille.config import ConfigError, load

PARIS = ZoneInfo("Europe/Paris")


def paris(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of November 2026 in Paris (the 23rd is a Monday)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=PARIS)


def test_digest_times_in_the_configured_zone() -> None:
    daily, weekdays, hourly = Digest.parse("daily 08:00"), Digest.parse("weekdays 08:00"), Digest.parse("hourly")
    assert daily.next_after(paris(23, 7, 59), "Europe/Paris") == paris(23, 8)
    assert daily.next_after(paris(23, 8), "Europe/Paris") == paris(24, 8)
    assert weekdays.next_after(paris(27, 9), "Europe/Paris") == paris(30, 8), "Friday 09:00 → Monday"
    assert hourly.next_after(paris(23, 10, 5), "Europe/Paris") == paris(23, 11)
    # given in UTC, read in Paris: 07:30 UTC is 08:30 in Paris in November
    assert daily.next_after(datetime(2026, 11, 23, 7, 30, tzinfo=UTC), "Europe/Paris") == paris(24, 8)


def test_quiet_hours_across_midnight() -> None:
    quiet = QuietHours.parse("22:00-07:00")
    assert quiet.ends_at(paris(23, 23), "Europe/Paris") == paris(24, 7)
    assert quiet.ends_at(paris(24, 6, 59), "Europe/Paris") == paris(24, 7)
    assert quiet.ends_at(paris(24, 7), "Europe/Paris") is None
    assert quiet.ends_at(paris(24, 12), "Europe/Paris") is None
    assert QuietHours.parse("12:00-14:00").ends_at(paris(24, 13), "Europe/Paris") == paris(24, 14)


def test_route_holds_for_quiet_hours_and_digests() -> None:
    quiet = Policy(quiet_hours=QuietHours.parse("22:00-07:00"))
    assert route(quiet, paris(23, 21).isoformat(), paris(23, 23), "Europe/Paris") == "hold"
    assert route(quiet, paris(23, 21).isoformat(), paris(24, 7, 1), "Europe/Paris") == "send"
    digest = Policy(digest=Digest.parse("daily 08:00"), quiet_hours=QuietHours.parse("06:00-09:00"))
    assert route(digest, paris(23, 12).isoformat(), paris(24, 8), "Europe/Paris") == "hold", "quiet first"
    assert route(digest, paris(23, 12).isoformat(), paris(24, 9), "Europe/Paris") == "digest"


@pytest.mark.parametrize(("section", "value", "message"), [
    ("digest", "daily 25:00", "alerts.digest: '25:00' is not a time of day"),
    ("digest", "monthly", "alerts.digest: 'monthly' is not a digest schedule"),
    ("quiet_hours", "22h-7h", "alerts.quiet_hours: '22h' is not a time of day"),
    ("max_per_hour", 0, "alerts.max_per_hour: Input should be greater than or equal to 1"),
])
def test_bad_delivery_settings_get_one_clear_line(tmp_path: Path, section: str, value: object,
                                                  message: str) -> None:
    config = write_config(tmp_path / "config.yaml", [], alerts={section: value})
    with pytest.raises(ConfigError) as error:
        load(config)
    assert error.value.problems == [message + (
        ": write it like 08:00 (00:00 to 23:59)" if "time of day" in message else
        ": write hourly, daily 08:00 or weekdays 08:00" if "schedule" in message else "")]


def test_chat_overrides_topic_overrides_defaults(tmp_path: Path) -> None:
    config = load(write_config(
        tmp_path / "config.yaml", [],
        [{"name": "cloud", "keywords": ["cloud"], "chats": [5, 6], "digest": "daily 08:00"}],
        alerts={"quiet_hours": "22:00-07:00"},
        telegram={"chats": {5: {"digest": "hourly", "max_per_hour": 5}}}))
    rules = DeliveryRules.build(config.alerts, config.topics, config.telegram)
    assert rules.policy(5, "cloud") == Policy(Digest("hourly"), QuietHours.parse("22:00-07:00"), 5)
    assert rules.policy(6, "cloud").digest == Digest.parse("daily 08:00")
    assert rules.policy(6, "other") == Policy(None, QuietHours.parse("22:00-07:00"), 30)


def run(tmp_path: Path, rules: DeliveryRules, now: datetime) -> tuple[DispatchReport, list[str]]:
    out = io.StringIO()
    report = asyncio.run(dispatch(port(archive(tmp_path)), ConsoleSender(out), "Europe/Paris", rules=rules, now=now))
    return report, [m for m in out.getvalue().split("── alert for chat ") if m]


def test_digest_sends_one_summary_of_the_stories_since_the_last(tmp_path: Path) -> None:
    db = archive(tmp_path)
    queue(db, 3, [7], queued_at=paris(23, 7, 30))
    rules = DeliveryRules(chats={7: ChatDelivery.model_validate({"digest": "daily 08:00"})})
    report, messages = run(tmp_path, rules, paris(23, 7, 59))
    assert messages == [] and report.held == 3
    report, messages = run(tmp_path, rules, paris(23, 8, 0))
    assert len(messages) == 1 and "3 articles" in messages[0]
    assert all(f"Cloud souverain {i}" in messages[0] for i in range(3))
    assert states(db)["sent"] == 3
    assert run(tmp_path, rules, paris(23, 8, 1))[1] == [], "a digest goes out once"


class Sizes:
    """A sender that keeps the size of each HTML message it is given."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    async def send(self, chat_id: int, message: Message) -> int | None:
        self.sizes.append(len(message.html))
        return None


def test_a_long_digest_is_split_and_every_alert_delivered(tmp_path: Path) -> None:
    db = archive(tmp_path)
    queue(db, 60, [7], title="Cloud souverain {i} " + "x" * 150, queued_at=paris(23, 7, 30))
    rules = DeliveryRules(alerts=AlertsConfig.model_validate({"digest": "hourly"}))
    sender = Sizes()
    asyncio.run(dispatch(port(db), sender, "Europe/Paris", rules=rules, now=paris(23, 8, 0)))
    assert len(sender.sizes) > 1 and max(sender.sizes) <= 4096
    assert states(db) == {"pending": 0, "sending": 0, "sent": 60, "failed": 0}


def test_quiet_hours_queue_alerts_until_they_end(tmp_path: Path) -> None:
    db = archive(tmp_path)
    queue(db, 2, [7])
    rules = DeliveryRules(alerts=AlertsConfig.model_validate({"quiet_hours": "22:00-07:00"}))
    assert run(tmp_path, rules, paris(23, 23))[1] == []
    assert states(db)["pending"] == 2
    assert len(run(tmp_path, rules, paris(24, 7, 1))[1]) == 2


def test_past_the_hourly_cap_the_rest_is_folded_into_one_message(tmp_path: Path) -> None:
    db = archive(tmp_path)
    queue(db, 8, [7])
    rules = DeliveryRules(alerts=AlertsConfig.model_validate({"max_per_hour": 3}))
    now = datetime.now(UTC)
    messages = run(tmp_path, rules, now)[1]
    assert len(messages) == 4
    assert "5 autres alertes" in messages[3]
    assert states(db) == {"pending": 0, "sending": 0, "sent": 8, "failed": 0}
    queue(db, 2, [7], topic="later")
    assert run(tmp_path, rules, now)[1] == [], "one fold per hour: later alerts wait"
    assert len(run(tmp_path, rules, now + timedelta(minutes=61))[1]) == 2


def test_a_muted_chat_keeps_its_alerts_until_the_mute_ends(tmp_path: Path) -> None:
    db = archive(tmp_path)
    queue(db, 2, [7, 8])
    chats.mute(db, 7, datetime.now(UTC) + timedelta(hours=1))
    messages = run(tmp_path, DeliveryRules(), datetime.now(UTC))[1]
    assert [m.split("\n")[0] for m in messages] == ["8", "8"]
    assert states(db)["pending"] == 2
    chats.unmute(db, 7)
    assert [m.split("\n")[0] for m in run(tmp_path, DeliveryRules(), datetime.now(UTC))[1]] == ["7", "7"]


def test_an_alert_names_the_other_outlets_that_carried_it(tmp_path: Path) -> None:
    db = archive(tmp_path)
    (article_id,) = queue(db, 1, [7])
    url = "http://127.0.0.1/articles/journal-cloud-0-1"
    articles.store(db, {"source": "autre-journal", "url": url + "?from=autre", "canonical_url": url,
                        "title": "Cloud souverain 0", "text": ""})
    assert sorted(articles.get(db, article_id)["sources"]) == ["autre-journal", "journal"]
    (message,) = run(tmp_path, DeliveryRules(), datetime.now(UTC))[1]
    assert "Aussi dans : autre-journal" in message


def test_every_delivery_setting_is_documented() -> None:
    readme = (Path(__file__).parent.parent / "docs" / "operations.md").read_text(encoding="utf-8")
    section = readme.split("## Alert delivery", 1)[1].split("\n## ", 1)[0]
    keys = set(AlertsConfig.model_fields) | set(ChatDelivery.model_fields) | {"chats"}
    assert {k for k in keys if f"{k}:" not in section} == set()
