"""Testing tools: a fake OpenAI-compatible chat server on loopback that litellm talks to for real.

`FakeLLM` is what `httpx.MockTransport` is to httpx: a stand-in for a model
server that speaks the real protocol (HTTP, OpenAI's chat-completions JSON),
for tests and offline development of policies, users and synthesis:
each request to `/v1/chat/completions` is answered by the next `Reply` of a
script, or by a function of the request. Replies can be text, tool calls
(several at once, or malformed: bad JSON arguments, unknown tools, wrong
types), HTTP errors (429 with Retry-After, 5xx), a hang until the client
gives up, or a raw body. Token ids and logprobs are included, vLLM-style,
when the request asks for them (`logprobs`, `return_token_ids`).

Its "tokenizer" is UTF-8 bytes and its chat template is incremental, so a
conversation's prompt ids always extend the previous turn's prompt and
completion ids, as a real template's do:

```
<|system|>...<|end|><|user|>...<|end|><|assistant|>{content}{calls}<|end|><|tool|>...<|end|><|assistant|>
```

```python
with FakeLLM([Reply.calls(FakeCall("find_book", {"title": "Dune"})), Reply.text("Done.")]) as llm:
    policy = LiteLLMPolicy("openai/fake", api_base=llm.url, api_key="fake")
```
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

__all__ = ["FakeCall", "FakeLLM", "Reply", "render_prompt", "tokenize"]


class _Server(ThreadingHTTPServer):
    # The default backlog (5) resets connections when a run opens dozens at once.
    request_queue_size = 512


def tokenize(text: str) -> list[int]:
    """The fake's tokenizer: one token per UTF-8 byte."""
    return list(text.encode("utf-8"))


def _render_calls(calls: Sequence[tuple[str, str]]) -> str:
    return json.dumps([[name, arguments] for name, arguments in calls], ensure_ascii=False) if calls else ""


def _render_message(message: Mapping[str, Any]) -> str:
    calls = [
        (str(call["function"]["name"]), str(call["function"].get("arguments") or ""))
        for call in message.get("tool_calls") or []
    ]
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    return f"<|{message.get('role')}|>{text}{_render_calls(calls)}<|end|>"


def render_prompt(messages: Sequence[Mapping[str, Any]]) -> str:
    """The fake's chat template, with the generation prompt."""
    return "".join(_render_message(m) for m in messages) + "<|assistant|>"


@dataclass(frozen=True, slots=True)
class FakeCall:
    """A tool call the fake model makes; a string `arguments` is sent as is (bad JSON included)."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def raw_arguments(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(dict(self.arguments))


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted response."""

    content: str | None = None
    tool_calls: tuple[FakeCall, ...] = ()
    status: int = 200
    error: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    hang: bool = False
    body: str | None = None
    finish_reason: str | None = None
    tokens: bool | None = None

    @classmethod
    def text(cls, content: str, **kwargs: Any) -> Reply:
        """A final answer."""
        return cls(content=content, **kwargs)

    @classmethod
    def calls(cls, *calls: FakeCall, content: str | None = None, **kwargs: Any) -> Reply:
        """One turn with these tool calls (several make parallel calls)."""
        return cls(content=content, tool_calls=tuple(calls), **kwargs)

    @classmethod
    def call(cls, name: str, **arguments: Any) -> Reply:
        """One turn with one tool call."""
        return cls(tool_calls=(FakeCall(name, arguments),))

    @classmethod
    def http_error(cls, status: int, message: str = "scripted failure", retry_after: float | None = None) -> Reply:
        """An HTTP error (429, 500, 503, 400 ...), with Retry-After when given."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return cls(status=status, error=message, headers=headers)

    @classmethod
    def hanging(cls) -> Reply:
        """Never answer (until the fake closes): a model call that passes its deadline."""
        return cls(hang=True)

    @classmethod
    def raw(cls, body: str, status: int = 200) -> Reply:
        """A raw response body (for unparseable or shapeless replies)."""
        return cls(body=body, status=status)


Script = Sequence[Reply] | Callable[[dict[str, Any]], Reply]


class FakeLLM:
    """The loopback fake; use as a context manager. `requests` holds every request body received.

    With a list script, the replies are served in order and a request past
    the end gets a 500 naming the exhaustion (so a test that expects fewer
    calls fails loudly). With a function, each request body maps to a reply
    (use it for concurrent episodes, keyed on the conversation).
    """

    def __init__(self, script: Script = (), *, model: str = "fake") -> None:
        self.model = model
        self._script = script if callable(script) else list(script)
        self._position = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle --------------------------------------------------------------------
    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # Without this, each response waits for the client's delayed ACK (~40 ms).
            disable_nagle_algorithm = True
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": fake.model, "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    self._send(400, {"error": {"message": "request body is not JSON"}})
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                reply = fake._next(body)
                if reply.hang:
                    fake._closing.wait()
                    self.close_connection = True
                    return
                if reply.body is not None:
                    self._send_text(reply.status, reply.body, reply.headers)
                elif reply.status != 200:
                    error = {"error": {"message": reply.error, "type": "scripted", "code": reply.status}}
                    self._send(reply.status, error, reply.headers)
                else:
                    self._send(200, fake._completion(body, reply), reply.headers)

            def _send(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
                self._send_text(status, json.dumps(payload), headers or {})

            def _send_text(self, status: int, text: str, headers: Mapping[str, str]) -> None:
                data = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        server = _Server(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        # A short poll keeps close() quick: shutdown() waits for the serving loop to look up.
        self._thread = threading.Thread(target=server.serve_forever, args=(0.02,), name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Release hanging requests and stop the server."""
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The `api_base` to give litellm (`model="openai/<name>"`)."""
        assert self._server is not None, "start the fake first"
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def script(self, script: Script) -> None:
        """Replace the script (and restart it): one fake can serve several scripted conversations in turn."""
        with self._lock:
            self._script = script if callable(script) else list(script)
            self._position = 0

    @property
    def remaining(self) -> int:
        """Scripted replies not served yet (0 for a function script)."""
        return 0 if callable(self._script) else len(self._script) - self._position

    # replies ------------------------------------------------------------------------
    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            if callable(self._script):
                return self._script(body)
            if self._position >= len(self._script):
                return Reply.http_error(500, f"fake LLM script exhausted after {len(self._script)} replies")
            reply = self._script[self._position]
            self._position += 1
            return reply

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        calls = [
            {
                "id": call.id or f"call_{len(self.requests)}_{index}",
                "type": "function",
                "function": {"name": call.name, "arguments": call.raw_arguments()},
            }
            for index, call in enumerate(reply.tool_calls)
        ]
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if calls:
            message["tool_calls"] = calls
        finish = reply.finish_reason or ("tool_calls" if calls else "stop")
        prompt_ids = tokenize(render_prompt(body.get("messages") or []))
        completion = (reply.content or "") + _render_calls([(c.name, c.raw_arguments()) for c in reply.tool_calls])
        completion_ids = tokenize(completion + "<|end|>")
        choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish}
        response: dict[str, Any] = {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", self.model),
            "choices": [choice],
            "usage": {
                "prompt_tokens": len(prompt_ids),
                "completion_tokens": len(completion_ids),
                "total_tokens": len(prompt_ids) + len(completion_ids),
            },
        }
        wants = body.get("logprobs") or body.get("return_token_ids")
        if reply.tokens if reply.tokens is not None else wants:
            response["prompt_token_ids"] = prompt_ids
            choice["token_ids"] = completion_ids
            choice["logprobs"] = {
                "content": [
                    {"token": f"token_id:{t}", "logprob": -0.01 * (1 + i % 5), "bytes": [t], "top_logprobs": []}
                    for i, t in enumerate(completion_ids)
                ]
            }
        return response
