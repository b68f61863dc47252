"""Where course checkpoints live, and how they are read back.

SQLite (the default) suits one machine. A ``postgresql://`` ``checkpointer_url``
selects LangGraph's Postgres checkpointer, which every worker of a cluster can
reach; one database may hold many campaigns, so its thread ids carry the
campaign name. Either is wrapped in a ``GuardedSaver``: PostgreSQL is reached
through a connection pool and waited for when it restarts (``service_retry``),
and a full disk stops the campaign naming the file or the database.

A checkpoint store is input too: a tampered or foreign checkpoint must not be
able to import and call arbitrary Python on load. Course state holds only
JSON-like values (dicts, lists, strings, numbers; ``states``), so no project type needs
reviving: msgpack extensions are limited to LangGraph's own safe list
(datetime, uuid, Send, ...), JSON revival of LangChain objects is off, and
pickle is never used (``strict_serializer``).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from ..config import CampaignConfig
from ..core.errors import InputError
from ..record.schema import CHECKPOINTS
from .guarded_saver import GuardedSaver
from .service_guard import ServiceGuard


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


def postgres_unreachable(error: BaseException) -> bool:
    """Whether ``error`` says PostgreSQL could not be reached or dropped the connection (a restart, say)."""
    import psycopg  # lazy: asked only about an error a Postgres checkpointer raised

    if isinstance(error, psycopg.errors.DiskFull):
        return False
    # OperationalError: refused, dropped, the server shutting down (and the pool's PoolTimeout);
    # InterfaceError: a connection that was closed under the call.
    return isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError))


def postgres_service(config: CampaignConfig) -> str:
    """How logs and errors name the database (the URL holds no password: the config refuses one)."""
    return f"PostgreSQL at {config.checkpointer_url}"


# Seconds one attempt waits for a pooled connection; the guard retries until service_retry.max_wait.
# Short, so an outage is noticed (and logged) rather than absorbed by the pool's wait: connections are
# never scarce, since PostgresSaver uses one at a time (it holds a lock around each use).
_POOL_TIMEOUT = 1.0


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
            file = run_dir / CHECKPOINTS
            saver = GuardedSaver(SqliteSaver(connection, serde=strict_serializer()),
                                 ServiceGuard(f"the checkpoint file {file}", config.service_retry, disk_path=str(file)))
            if setup:
                saver.guard.call(saver.inner.setup)
            yield saver
        finally:
            connection.close()
        return
    # lazy: the Postgres backend and psycopg load only for a campaign that uses them
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    # The connection settings PostgresSaver.from_conn_string uses, from a pool that replaces a connection
    # broken by a restart (checked as it is handed out); the pool reconnects in the background.
    pool = ConnectionPool(config.checkpointer_url, min_size=1, max_size=max(2, config.workers), open=False,
                          timeout=_POOL_TIMEOUT, check=ConnectionPool.check_connection,
                          kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row})
    guard = ServiceGuard(postgres_service(config), config.service_retry, postgres_unreachable,
                         disk_path=postgres_service(config))
    # The guard logs an outage once; the pool would log every reconnection attempt of its workers.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    pool.open(wait=False)
    try:
        saver = GuardedSaver(PostgresSaver(pool, serde=strict_serializer()), guard)
        if setup:
            guard.call(saver.inner.setup)
        yield saver
    finally:
        pool.close()


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
