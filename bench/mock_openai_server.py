#!/usr/bin/env python3
"""Instant mock of the OpenAI chat-completions API, for measuring orchestration overhead and request costs.

Copied from the shared tools (../shared/tools/mock_openai_server.py) into the project, and extended
with log-probabilities and token counts. Listens on 127.0.0.1 only and answers every request at once:
  * `tools` present            -> one tool call whose arguments are minimal valid JSON
                                  for the chosen function's parameter schema
  * response_format json_schema -> content is minimal valid JSON for that schema
  * response_format json_object -> content is "{}"
  * logprobs                    -> one token, with `top_logprobs` entries: the digits 0-9 (the
                                  answer's own level first when the prompt states "Your level: X"), then
                                  filler tokens; more than 20 asked is refused with a 400, as OpenAI does
  * otherwise                   -> a short sentence
usage counts tokens as characters / 4 (an estimate: the mock has no tokenizer).
Minimal JSON: strings "ok", integers/numbers 1, booleans false, arrays of one item,
enums/const their first value, $ref/anyOf/oneOf/allOf followed.

GET /stats returns {"requests": N, "by_kind": {...}, "seconds": S} (S: the time requests spent in the
server, latency included); the count is also printed on exit. --latency SECONDS answers each
chat-completions request that much later (a remote model's time to answer; requests are served in
parallel, one thread each); --vary ends each plain-text answer with a number, so that no two are the
same (as a model's are: caches of texts see what a real campaign gives them). Stops by itself after
--max-seconds (default 1800).

    python mock_openai_server.py --port 18080 [--latency 0.3] [--vary] [--max-seconds 600]
"""
import argparse
import json
import math
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SENTENCE = "I hear you, and I would like to understand more about that."
MAX_TOP_LOGPROBS = 20
_LEVEL = re.compile(r"Your level: ([0-9.]+)")
STATS = {"requests": 0, "by_kind": {}, "seconds": 0.0}
LOCK = threading.Lock()
LATENCY = 0.0  # seconds before each chat-completions answer (--latency)
VARY = False  # --vary: each plain-text answer ends with the request's number, so no two are the same


def minimal(schema, defs, depth=0):
    """Smallest JSON value that validates against a (Pydantic-style) JSON schema."""
    if not isinstance(schema, dict) or depth > 30:
        return "ok"
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        return minimal(defs.get(name, {}), defs, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return minimal(options[0], defs, depth + 1)
    if schema.get("allOf"):
        merged = {}
        for part in schema["allOf"]:
            merged.update(part.get("$ref") and defs.get(part["$ref"].split("/")[-1], {}) or part)
        return minimal(merged, defs, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        props = schema.get("properties", {})
        return {k: minimal(v, defs, depth + 1) for k, v in props.items()}
    if kind == "array":
        n = max(1, schema.get("minItems", 1))
        return [minimal(schema.get("items", {}), defs, depth + 1) for _ in range(n)]
    if kind in ("integer", "number"):
        value = max(1, schema.get("minimum", 1), schema.get("exclusiveMinimum", 0) + 1)
        return min(value, schema.get("maximum", value))
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return "x" * schema.get("minLength", 0) if schema.get("minLength", 0) > 2 else "ok"


def with_defs(schema):
    return schema.get("$defs") or schema.get("definitions") or {}


def estimated_tokens(text):
    return max(1, math.ceil(len(text) / 4))


def top_logprobs(req, top):
    """The first token's top log-probabilities: digits nearest the prompt's stated level first, then fillers."""
    prompt = "\n".join(str(m.get("content") or "") for m in req.get("messages", []))
    level = _LEVEL.findall(prompt)
    target = float(level[-1]) if level else 2.0
    digits = sorted(((str(d), -1.0 - abs(target - d)) for d in range(10)), key=lambda t: -t[1])
    fillers = [(f"w{i}", -12.0 - i) for i in range(max(0, top - len(digits)))]
    return [{"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in (digits + fillers)[:top]]


def answer(req):
    """Return (kind, message) for a chat-completions request body."""
    tools = req.get("tools") or []
    if tools:
        choice = req.get("tool_choice")
        name = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
        fn = next((t["function"] for t in tools if t.get("function", {}).get("name") == name), tools[0]["function"])
        params = fn.get("parameters", {})
        args = json.dumps(minimal(params, with_defs(params)))
        call = {"id": "call_0", "type": "function", "function": {"name": fn["name"], "arguments": args}}
        return "tools", {"role": "assistant", "content": None, "tool_calls": [call]}
    fmt = req.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        schema = fmt.get("json_schema", {}).get("schema", {})
        return "json_schema", {"role": "assistant", "content": json.dumps(minimal(schema, with_defs(schema)))}
    if fmt.get("type") == "json_object":
        return "json_object", {"role": "assistant", "content": "{}"}
    if VARY:
        with LOCK:
            number = STATS["requests"] + 1
        return "text", {"role": "assistant", "content": f"{SENTENCE} That is point {number} for today."}
    return "text", {"role": "assistant", "content": SENTENCE}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else headers+body writes stall ~40 ms on delayed ACK

    def log_message(self, *args):  # quiet
        pass

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.rstrip("/").endswith("/stats"):
            with LOCK:
                return self.send_json(200, STATS)
        if self.path.rstrip("/").endswith("/models"):
            return self.send_json(200, {"object": "list", "data": [{"id": "mock", "object": "model"}]})
        self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        started = time.perf_counter()
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self.send_json(404, {"error": {"message": "not found"}})
        if LATENCY:
            time.sleep(LATENCY)
        try:
            return self._complete(raw)
        finally:
            with LOCK:
                STATS["seconds"] += time.perf_counter() - started

    def _complete(self, raw):
        try:
            req = json.loads(raw or b"{}")
            kind, msg = answer(req)
        except Exception as exc:  # malformed request or schema
            return self.send_json(400, {"error": {"message": f"mock: {exc}"}})
        top = int(req.get("top_logprobs") or 0)
        if req.get("logprobs") and top > MAX_TOP_LOGPROBS:
            return self.send_json(400, {"error": {"message": f"top_logprobs must be <= {MAX_TOP_LOGPROBS}",
                                                  "type": "invalid_request_error"}})
        logprobs = None
        if req.get("logprobs") and not req.get("tools"):
            entries = top_logprobs(req, top or 1)
            kind, msg = "logprobs", {"role": "assistant", "content": entries[0]["token"]}
            logprobs = {"content": [{**entries[0], "top_logprobs": entries if top else []}]}
        with LOCK:
            STATS["requests"] += 1
            STATS["by_kind"][kind] = STATS["by_kind"].get(kind, 0) + 1
        if req.get("stream"):
            return self.stream(req, msg)
        finish = "tool_calls" if msg.get("tool_calls") else "stop"
        prompt_tokens = sum(estimated_tokens(str(m.get("content") or "")) for m in req.get("messages", []))
        completion_tokens = estimated_tokens(msg.get("content") or json.dumps(msg.get("tool_calls")))
        choice = {"index": 0, "message": msg, "finish_reason": finish}
        if logprobs is not None:
            choice["logprobs"] = logprobs
        self.send_json(200, {
            "id": "chatcmpl-mock", "object": "chat.completion", "created": int(time.time()),
            "model": req.get("model", "mock"), "choices": [choice],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })

    def stream(self, req, msg):
        delta = dict(msg)
        if delta.get("tool_calls"):
            delta["tool_calls"] = [dict(delta["tool_calls"][0], index=0)]
        chunks = [
            {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls" if msg.get("tool_calls") else "stop"}]},
        ]
        body = b"".join(
            b"data: " + json.dumps(dict(c, id="chatcmpl-mock", object="chat.completion.chunk",
                                        created=int(time.time()), model=req.get("model", "mock"))).encode() + b"\n\n"
            for c in chunks
        ) + b"data: [DONE]\n\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("--max-seconds", type=float, default=1800)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds before each chat-completions answer")
    ap.add_argument("--vary", action="store_true", help="no two plain-text answers alike (a number in each)")
    args = ap.parse_args()
    global LATENCY, VARY
    LATENCY = max(0.0, args.latency)
    VARY = args.vary
    # A listen backlog for many clients connecting at once (the default 5 drops SYNs: a 1 s retransmit).
    ThreadingHTTPServer.request_queue_size = 256
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    timer = threading.Timer(args.max_seconds, server.shutdown)
    timer.daemon = True
    timer.start()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    print(f"mock listening on http://127.0.0.1:{args.port}/v1", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        print(f"mock served {json.dumps(STATS)}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
