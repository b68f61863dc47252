"""TEST DOUBLE: an OpenAI-compatible chat-completions server on loopback.

It answers with the scripted test double's replies (agents/llm/providers/scripted.py),
so a campaign can run against ``openai/...`` through LiteLLM's real HTTP path,
and it records the Authorization headers and the request bodies it received.

Asked for ``logprobs``, it lists ``top_logprobs`` entries for the first token (the scripted
double's scores for the answer digits, then filler tokens), refusing more than
``max_top_logprobs`` with a 400 as OpenAI and vLLM do. ``garbage=True`` makes it a server
that answers every JSON request with junk and gives no log-probabilities: every
questionnaire answer then has to be filled in. ``fixed="..."`` makes it a server that answers
every request, whatever it asks, with that one sentence (and no log-probabilities): a model that
writes nothing useful, for checking what a campaign credits to it.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from muspsy_sim.agents.llm.providers.scripted import (
    asks_for_json,
    scripted_json_answer,
    scripted_logprobs,
    scripted_reply,
)

GARBAGE = '{"answer": "maybe"} I would rather not say.'
_FILLER = ("I", "The", "You", "It", "This", "My", "Well", "Not", "Yes", "No")


def _top_logprobs(messages: list[dict], top: int) -> list[dict]:
    digits = scripted_logprobs(messages, top)
    floor = min(logprob for _, logprob in digits)
    fillers = [(f"{word}{i // len(_FILLER) or ''}", floor - 1 - i) for i, word in
               enumerate(_FILLER * (1 + top // len(_FILLER)))]
    return [{"token": token, "logprob": logprob, "bytes": list(token.encode())}
            for token, logprob in (digits + fillers)[:top]]


class FakeOpenAIServer:
    def __init__(self, *, garbage: bool = False, logprobs: bool = True, max_top_logprobs: int = 20,
                 fixed: str | None = None, key: str | None = None):
        """``key``: the only API key the server accepts (a request with another gets 401); None: any."""
        self.authorizations: list[str] = []
        self.bodies: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                server.authorizations.append(self.headers.get("Authorization", ""))
                server.bodies.append(body)
                if key is not None and self.headers.get("Authorization") != f"Bearer {key}":
                    return self._reply(401, {"error": {"message": "Incorrect API key provided",
                                                       "type": "invalid_request_error", "code": "invalid_api_key"}})
                top = int(body.get("top_logprobs") or 0)
                if body.get("logprobs") and top > max_top_logprobs:
                    return self._reply(400, {"error": {"message": f"top_logprobs must be <= {max_top_logprobs}",
                                                       "type": "invalid_request_error"}})
                messages = body["messages"]
                choice: dict = {"index": 0, "finish_reason": "stop"}
                if fixed is not None:
                    text = fixed
                elif body.get("logprobs") and logprobs and not garbage:
                    entries = _top_logprobs(messages, top or 1)
                    text = entries[0]["token"]
                    choice["logprobs"] = {"content": [{**entries[0], "top_logprobs": entries}]}
                elif asks_for_json(messages) or body.get("response_format"):
                    text = GARBAGE if garbage else scripted_json_answer(messages)
                else:
                    text = scripted_reply(messages)
                choice["message"] = {"role": "assistant", "content": text}
                prompt_tokens = sum(len(m["content"].split()) for m in messages)
                self._reply(200, {
                    "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                    "model": body.get("model", "fake"), "choices": [choice],
                    "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()),
                              "total_tokens": prompt_tokens + len(text.split())},
                })

            def _reply(self, status: int, data: dict) -> None:
                reply = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FakeOpenAIServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
