"""A fake Telegram Bot API on 127.0.0.1 that records what it is sent and can misbehave on demand.

Point python-telegram-bot at it with `base_url=f"{fake.url}/bot"` (or TELEGRAM_API_URL).
"""

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "veille", "username": "veille_test_bot"}


@dataclass
class Call:
    """One request the fake API received."""

    method: str
    params: dict[str, Any]
    token: str


@dataclass
class FakeBotAPI:
    """Records calls; `script[method]` is a list of faults to serve, in order, before answering normally.

    A fault is ("429", seconds), ("500", None), ("hang", seconds), ("chat_not_found", None),
    ("forbidden", None) or ("echo", status): an HTML error page with that status that quotes the request
    path, escaped, as a proxy in front of a self-hosted Bot API may (the path holds the token).
    `delay` slows every sendMessage down (seconds).
    `migrated` maps a group's id to the supergroup Telegram moved it to (sendMessage to it says so).
    `updates` is the queue getUpdates serves (fill it with `push`).
    `statuses` maps (chat id, user id) to what getChatMember says: "creator", "administrator"; else "member".
    """

    calls: list[Call] = field(default_factory=list)
    script: dict[str, list[tuple[str, float | None]]] = field(default_factory=dict)
    fail_chats: dict[int, str] = field(default_factory=dict)
    migrated: dict[int, int] = field(default_factory=dict)
    delay: float = 0.0
    updates: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[tuple[int, int], str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next_message_id: int = 1
    _next_update_id: int = 0
    texts: dict[tuple[int, int], str] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def sent(self, method: str = "sendMessage") -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def answer(self, method: str, params: dict[str, Any], path: str = "") -> tuple[int, dict[str, Any] | str]:
        with self._lock:
            faults = self.script.get(method) or []
            fault = faults.pop(0) if faults else None
        if fault is not None:
            kind, value = fault
            if kind == "hang":
                time.sleep(value or 60)
                return 500, {"ok": False, "error_code": 500, "description": "Internal Server Error: hung"}
            if kind == "429":
                return 429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after",
                             "parameters": {"retry_after": int(value or 1)}}
            if kind == "500":
                return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
            if kind == "chat_not_found":
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
            if kind == "echo":
                return int(value or 500), f"<html><h1>Error</h1><p>POST {quote(path)} failed upstream</p></html>"
            if kind == "forbidden":
                return 403, {"ok": False, "error_code": 403,
                             "description": "Forbidden: bot was blocked by the user"}
        if method == "getUpdates":
            self._long_poll(int(params.get("offset") or 0), float(params.get("timeout") or 0))
        if method == "sendMessage":
            chat_id = int(params.get("chat_id", 0))
            if chat_id in self.fail_chats:
                return 400, {"ok": False, "error_code": 400, "description": self.fail_chats[chat_id]}
            if chat_id in self.migrated:
                return 400, {"ok": False, "error_code": 400,
                             "description": "Bad Request: group chat was upgraded to a supergroup chat",
                             "parameters": {"migrate_to_chat_id": self.migrated[chat_id]}}
            if self.delay:
                time.sleep(self.delay)
        if method == "editMessageText":
            key = (int(params.get("chat_id", 0)), int(params.get("message_id", 0)))
            with self._lock:
                if self.texts.get(key) == params.get("text"):
                    return 400, {"ok": False, "error_code": 400, "description":
                                 "Bad Request: message is not modified: specified new message content and "
                                 "reply markup are exactly the same as a current content"}
                self.texts[key] = params.get("text", "")
        with self._lock:
            self.calls.append(Call(method, params, ""))
            message_id = self._next_message_id
            self._next_message_id += 1
        return 200, {"ok": True, "result": self._result(method, params, message_id)}

    def _long_poll(self, offset: int, timeout: float) -> None:
        """Hold getUpdates while nothing new is queued, as Telegram does (capped, so that stopping is quick)."""
        deadline = time.monotonic() + min(timeout, 0.5)
        while not self._from(offset) and time.monotonic() < deadline:
            time.sleep(0.02)

    def _from(self, offset: int) -> list[dict[str, Any]]:
        with self._lock:
            return [u for u in self.updates if u.get("update_id", 0) >= offset]

    def push(self, update: dict[str, Any]) -> None:
        """Queue an update for the next getUpdates, numbering it."""
        with self._lock:
            self._next_update_id += 1
            self.updates.append({"update_id": self._next_update_id, **update})

    def replies(self, chat_id: int) -> list[str]:
        """The texts sent to a chat, in order."""
        return [c.params["text"] for c in self.sent() if int(c.params["chat_id"]) == chat_id]

    def _result(self, method: str, params: dict[str, Any], message_id: int) -> Any:
        if method == "getMe":
            return BOT_USER
        if method in ("sendMessage", "editMessageText"):
            chat_id = int(params.get("chat_id", 0))
            return {"message_id": message_id, "date": int(time.time()), "text": params.get("text", ""),
                    "chat": {"id": chat_id, "type": "group" if chat_id < 0 else "private"},
                    "from": BOT_USER}
        if method == "getChatMember":
            return self._member(int(params.get("chat_id", 0)), int(params.get("user_id", 0)))
        if method == "getUpdates":
            # as Telegram does, an offset confirms (drops) the updates before it; the others are served
            # again until confirmed, so that a poll abandoned by a stopped bot loses nothing
            offset = int(params.get("offset") or 0)
            with self._lock:
                self.updates[:] = [u for u in self.updates if u.get("update_id", 0) >= offset]
                return list(self.updates)
        return True

    def _member(self, chat_id: int, user_id: int) -> dict[str, Any]:
        status = self.statuses.get((chat_id, user_id), "member")
        member: dict[str, Any] = {"status": status, "user": user(user_id)}
        if status == "creator":
            member["is_anonymous"] = False
        if status == "administrator":
            member |= dict.fromkeys(("can_be_edited", "is_anonymous", "can_post_stories", "can_edit_stories",
                                     "can_delete_stories", "can_promote_members"), False)
            member |= dict.fromkeys(("can_manage_chat", "can_delete_messages", "can_manage_video_chats",
                                     "can_restrict_members", "can_change_info", "can_invite_users"), True)
        return member


def user(user_id: int, language: str = "fr") -> dict[str, Any]:
    """A Telegram user."""
    return {"id": user_id, "is_bot": False, "first_name": f"user{user_id}", "language_code": language}


def message(text: str, chat_id: int, user_id: int | None = None, language: str = "fr") -> dict[str, Any]:
    """An update carrying a message, with a bot_command entity when it starts with '/'."""
    chat_type = "supergroup" if chat_id < 0 else "private"
    body: dict[str, Any] = {
        "message_id": abs(hash(text)) % 100000, "date": int(time.time()), "text": text,
        "chat": {"id": chat_id, "type": chat_type, **({"title": "group"} if chat_id < 0 else {})},
        "from": user(user_id or chat_id, language)}
    if text.startswith("/"):
        body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"message": body}


def callback(data: str, chat_id: int, user_id: int | None = None, language: str = "fr") -> dict[str, Any]:
    """An update carrying an inline keyboard button press on one of the bot's messages."""
    chat_type = "supergroup" if chat_id < 0 else "private"
    return {"callback_query": {
        "id": str(abs(hash(data)) % 100000), "chat_instance": "1", "data": data,
        "from": user(user_id or chat_id, language),
        "message": {"message_id": 1, "date": int(time.time()), "text": "…", "from": BOT_USER,
                    "chat": {"id": chat_id, "type": chat_type}}}}


def _handler(fake: FakeBotAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            token, _, method = self.path.removeprefix("/bot").partition("/")
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if "json" in (self.headers.get("Content-Type") or ""):
                params = json.loads(body or "{}")
            else:
                params = dict(parse_qsl(body))
            status, payload = fake.answer(method, params, self.path)
            if fake.calls and fake.calls[-1].method == method and not fake.calls[-1].token:
                fake.calls[-1].token = token
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if isinstance(payload, str) else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_POST  # noqa: N815 (the name http.server looks for)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def serve() -> Iterator[FakeBotAPI]:
    """Start a fake Bot API on a free port of 127.0.0.1 for the duration of a test."""
    fake = FakeBotAPI()
    fake.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.server.daemon_threads = True
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
