"""A LangGraph checkpointer whose every read and write goes through a ``ServiceGuard``.

PostgreSQL restarted mid-campaign: each call waits and retries (on a fresh connection from
the pool) until the database answers again, so the courses go on where they were; past the
wait they stop as interrupted. SQLite or PostgreSQL out of space: ``DiskFull`` naming the
file or the database. Retrying a call is safe because both savers write idempotently (a
checkpoint or a task's writes keyed by their ids: an upsert, or insert-or-ignore).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)

from .service_guard import ServiceGuard


class GuardedSaver(BaseCheckpointSaver):
    """``inner`` with its calls guarded; versions and serialization are the inner saver's own."""

    def __init__(self, inner: BaseCheckpointSaver, guard: ServiceGuard):
        super().__init__(serde=inner.serde)
        self.inner = inner
        self.guard = guard

    @property
    def config_specs(self) -> list:
        return self.inner.config_specs

    def get_tuple(self, config) -> CheckpointTuple | None:
        return self.guard.call(self.inner.get_tuple, config)

    def list(self, config, *, filter: dict[str, Any] | None = None, before=None,
             limit: int | None = None) -> Iterator[CheckpointTuple]:
        # Read whole inside the guard: a retry must not resume a half-consumed cursor.
        return iter(self.guard.call(lambda: list(self.inner.list(config, filter=filter, before=before, limit=limit))))

    def put(self, config, checkpoint: Checkpoint, metadata: CheckpointMetadata, new_versions: ChannelVersions):
        return self.guard.call(self.inner.put, config, checkpoint, metadata, new_versions)

    def put_writes(self, config, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = "") -> None:
        return self.guard.call(self.inner.put_writes, config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        return self.guard.call(self.inner.delete_thread, thread_id)

    def get_next_version(self, current, channel):
        return self.inner.get_next_version(current, channel)
