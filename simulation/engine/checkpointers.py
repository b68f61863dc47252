"""Where course checkpoints live, and how they are read back.

SQLite (the default) suits one machine. A ``postgresql://`` ``checkpointer_url``
selects LangGraph's Postgres checkpointer, which every worker of a cluster can
reach; one database may hold many campaigns, so its thread ids carry the
campaign name.

A checkpoint store is input too: a tampered or foreign checkpoint must not be
able to import and call arbitrary Python on load. Course state holds only
JSON-like values (dicts, lists, strings, numbers; ``states``), so no project type needs
reviving: msgpack extensions are limited to LangGraph's own safe list
(datetime, uuid, Send, ...), JSON revival of LangChain objects is off, and
pickle is never used (``strict_serializer``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from ..config import CampaignConfig
from ..core.errors import InputError
from ..record.schema import CHECKPOINTS


def strict_serializer() -> JsonPlusSerializer:
    return JsonPlusSerializer(pickle_fallback=False, allowed_json_modules=None, allowed_msgpack_modules=None)


def uses_postgres(config: CampaignConfig) -> bool:
    return config.checkpointer_url is not None


def course_thread_id(config: CampaignConfig, client_id: str) -> str:
    """The LangGraph thread of one client course.

    In the run directory's own SQLite file the client id alone is unique (and
    what `inspect --history` and `fork` read); a shared database needs the campaign too.
    """
    return f"{config.name}/{client_id}" if uses_postgres(config) else client_id


@contextmanager
def open_checkpointer(config: CampaignConfig, run_dir: Path, *, setup: bool = True) -> Iterator[object]:
    """A checkpointer for ``config``; ``setup`` creates or migrates its tables (once, on the driver)."""
    if not uses_postgres(config):
        from langgraph.checkpoint.sqlite import SqliteSaver  # lazy: a checkpoint backend, loaded when a run opens one

        # Several processes of a local Ray cluster may share the file: wait for its lock, don't fail.
        connection = sqlite3.connect(run_dir / CHECKPOINTS, check_same_thread=False, timeout=60)
        # SqliteSaver uses WAL; with WAL, synchronous=NORMAL skips the fsync per commit yet loses
        # nothing when the process is killed (only a power cut can drop the last commits).
        connection.execute("PRAGMA synchronous=NORMAL")
        try:
            saver = SqliteSaver(connection, serde=strict_serializer())
            if setup:
                saver.setup()
            yield saver
        finally:
            connection.close()
        return
    # lazy: the Postgres backend and psycopg load only for a campaign that uses them
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg import Connection
    from psycopg.rows import dict_row

    # The settings PostgresSaver.from_conn_string uses, plus the strict serializer.
    with Connection.connect(config.checkpointer_url, autocommit=True, prepare_threshold=0,
                            row_factory=dict_row) as connection:
        saver = PostgresSaver(connection, serde=strict_serializer())
        if setup:
            saver.setup()
        yield saver


def create_checkpoint_tables(config: CampaignConfig, run_dir: Path) -> None:
    """Create or migrate the tables once, on the driver, before workers open the store without setup."""
    with open_checkpointer(config, run_dir, setup=True):
        pass


def check_checkpointer(config: CampaignConfig, source: str, client_ids: list[str], fresh: bool) -> None:
    """The Postgres checkpointer answers, and a new run does not inherit an earlier run's threads."""
    if not uses_postgres(config):
        return
    try:
        import psycopg  # lazy: psycopg loads only for a campaign with a checkpointer_url
    except ImportError:
        raise InputError(source, "checkpointer_url", "psycopg is not installed (pip install langgraph-checkpoint-postgres "
                                                      "'psycopg[binary]')") from None
    try:
        with psycopg.connect(config.checkpointer_url, connect_timeout=10) as connection:
            if not fresh or connection.execute("SELECT to_regclass('checkpoints')").fetchone()[0] is None:
                return
            threads = [course_thread_id(config, client_id) for client_id in client_ids]
            stale = connection.execute("SELECT thread_id FROM checkpoints WHERE thread_id = ANY(%s) LIMIT 1",
                                       (threads,)).fetchone()
    except psycopg.Error as error:
        reason = " ".join(str(error).split())
        raise InputError(source, "checkpointer_url", f"cannot use the Postgres checkpointer: {reason}") from None
    if stale:
        raise InputError(source, "checkpointer_url",
                         f"the database already holds checkpoints of campaign '{config.name}' ({stale[0]}) but its run "
                         "directory is new; choose another name or delete that campaign's threads")
