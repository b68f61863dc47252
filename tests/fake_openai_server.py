"""TEST DOUBLE: an OpenAI-compatible chat-completions server on loopback.

It answers with the scripted test double's replies (agents/llm/providers/scripted.py),
so a campaign can run against ``openai/...`` through LiteLLM's real HTTP path,
and it records the Authorization headers it received.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from muspsy_sim.agents.llm.providers.scripted import last_content, scripted_json_answer, scripted_reply


class FakeOpenAIServer:
    def __init__(self):
        self.authorizations: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                server.authorizations.append(self.headers.get("Authorization", ""))
                messages = body["messages"]
                asks_json = "Reply with JSON only" in last_content(messages, "user")
                text = scripted_json_answer(messages) if asks_json else scripted_reply(messages)
                reply = json.dumps({
                    "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                    "model": body.get("model", "fake"),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": len(text.split()),
                              "total_tokens": 10 + len(text.split())},
                }).encode()
                self.send_response(200)
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
