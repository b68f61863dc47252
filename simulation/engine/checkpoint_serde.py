"""Strict deserialization of LangGraph checkpoints.

A checkpoint store is input too: a tampered or foreign checkpoint must not be
able to import and call arbitrary Python on load. Course state holds only
JSON-like values (dicts, lists, strings, numbers), so no project type needs
reviving: msgpack extensions are limited to LangGraph's own safe list
(datetime, uuid, Send, ...), JSON revival of LangChain objects is off, and
pickle is never used.
"""

from __future__ import annotations

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer


def strict_serializer() -> JsonPlusSerializer:
    return JsonPlusSerializer(pickle_fallback=False, allowed_json_modules=None, allowed_msgpack_modules=None)
