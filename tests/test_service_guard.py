"""ServiceGuard: calls retried through an outage with backoff, logged once per outage, bounded by max_wait."""

from __future__ import annotations

import errno
import logging
import threading
import time

import pytest

from muspsy_sim.simulation.config import ServiceRetry
from muspsy_sim.simulation.core.interruptions import DiskFull, ServiceUnavailable
from muspsy_sim.simulation.engine.service_guard import ServiceGuard

FAST = ServiceRetry(max_wait=2, initial_backoff=0.01, max_backoff=0.05)


class FlakyService:
    """Refuses connections until ``back_at`` (monotonic seconds); counts calls."""

    def __init__(self, down_for: float):
        self.back_at = time.monotonic() + down_for
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, value):
        with self.lock:
            self.calls += 1
        if time.monotonic() < self.back_at:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
        return value


def _refused(error: BaseException) -> bool:
    return isinstance(error, ConnectionError)


def test_concurrent_calls_wait_through_an_outage_logged_once(caplog):
    guard = ServiceGuard("the test service", FAST, _refused)
    service = FlakyService(down_for=0.3)
    results = []
    with caplog.at_level(logging.WARNING, logger="muspsy_sim.services"):
        threads = [threading.Thread(target=lambda i=i: results.append(guard.call(service, i))) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(results) == list(range(8)) and service.calls > 8, "every call answered, after retries"
    messages = [record.getMessage() for record in caplog.records]
    assert sum("stopped answering" in m for m in messages) == 1, messages
    assert sum("answers again" in m for m in messages) == 1, messages


def test_past_max_wait_a_call_stops_as_interrupted_and_later_calls_do_not_wait_again(caplog):
    guard = ServiceGuard("the test service", ServiceRetry(max_wait=0.2, initial_backoff=0.01, max_backoff=0.05),
                         _refused)
    service = FlakyService(down_for=60)
    with caplog.at_level(logging.WARNING, logger="muspsy_sim.services"):
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable) as stopped:
            guard.call(service, 1)
        assert 0.2 <= time.monotonic() - started < 2
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            guard.call(service, 2)
        assert time.monotonic() - started < 0.5, "the outage's wait is spent: the next call gives up at once"
    assert "the test service did not answer for" in str(stopped.value) and "ConnectionRefusedError" in str(stopped.value)
    assert sum("still not answering" in r.getMessage() for r in caplog.records) == 1


def test_a_full_disk_is_not_waited_for_and_names_the_path():
    guard = ServiceGuard("the store", FAST, disk_path="/runs/x/checkpoints.sqlite")
    calls = []

    def full():
        calls.append(1)
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(DiskFull) as stopped:
        guard.call(full)
    assert len(calls) == 1
    assert str(stopped.value).startswith("disk full: cannot write /runs/x/checkpoints.sqlite (OSError")


def test_a_servers_full_disk_stops_the_campaign_too_naming_the_server():
    # A Chroma server whose disk is full answers with an error that says so (its SQLite's message): no
    # path of ours to name, but the campaign stops as interrupted all the same, not course by course failed.
    from chromadb.errors import InternalError

    guard = ServiceGuard("the Chroma server at http://db:8000", FAST, transient=lambda error: False)
    calls = []

    def full():
        calls.append(1)
        raise InternalError("database or disk is full")

    with pytest.raises(DiskFull) as stopped:
        guard.call(full)
    assert len(calls) == 1
    assert str(stopped.value).startswith("disk full: cannot write the Chroma server at http://db:8000 (")


def test_other_errors_pass_through_unchanged_and_unretried():
    guard = ServiceGuard("the test service", FAST, _refused)
    calls = []

    def broken():
        calls.append(1)
        raise ValueError("a bad request")

    with pytest.raises(ValueError, match="a bad request"):
        guard.call(broken)
    assert len(calls) == 1
