"""Calls into a store that may go away for a while or fill up: the memory store and the checkpointer.

``ServiceGuard.call`` runs one call to its service. While the service does not answer (the
``transient`` errors: a refused connection, a dropped one) the call is retried with exponential
backoff and jitter (tenacity) until the service answers, or until it has been away the
configured ``max_wait`` (``service_retry`` in the config); then ``ServiceUnavailable`` stops the
course as interrupted. The wait is counted from the outage's first failed call, whichever call
that was, so calls that start late in an outage do not extend it, and one line is logged when
an outage begins, one when it ends and one when the courses give up: not one per call.

A write that finds the disk full raises ``DiskFull`` naming the store's path: retrying would not
free space, so the campaign stops at once (``simulation/campaign``) and ``resume`` finishes it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import Retrying, retry_if_exception, wait_exponential_jitter

from ..config import ServiceRetry
from ..core.interruptions import DiskFull, ServiceUnavailable, describe, is_disk_full

LOG = logging.getLogger("muspsy_sim.services")
T = TypeVar("T")


def never(error: BaseException) -> bool:
    """For a store with no server behind it (files in the run directory): no error is an outage."""
    return False


class ServiceGuard:
    """One service's calls, retried through its outages; shared by every course that uses the service."""

    def __init__(self, service: str, settings: ServiceRetry, transient: Callable[[BaseException], bool] = never,
                 *, disk_path: str | None = None):
        self.service = service
        self.settings = settings
        self.transient = transient
        self.disk_path = disk_path
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._gave_up = False

    def call(self, function: Callable[..., T], *args, **kwargs) -> T:
        try:
            result = function(*args, **kwargs)  # the common case: no retry machinery (tenacity costs ~10 us a call)
        except BaseException as error:
            if not self._failed_during_outage(error):
                stopping = self._stopping(error)
                if stopping is error:
                    raise
                raise stopping from error
            return self._retried(function, args, kwargs)
        self._answered()
        return result

    def _retried(self, function: Callable[..., T], args, kwargs) -> T:
        """``function`` retried through the outage its first call ran into (the first retry comes at once:
        a connection dropped by a restart is often just replaced)."""
        settings = self.settings
        retrying = Retrying(
            retry=retry_if_exception(self._failed_during_outage),
            wait=wait_exponential_jitter(multiplier=settings.initial_backoff, max=settings.max_backoff,
                                         jitter=settings.initial_backoff),
            stop=lambda _state: self._past_the_wait(),
            reraise=True,
        )
        try:
            result = retrying(function, *args, **kwargs)
        except BaseException as error:
            stopping = self._stopping(error)
            if stopping is error:
                raise
            raise stopping from error
        self._answered()
        return result

    def _stopping(self, error: BaseException) -> BaseException:
        """What a failed call raises: ``DiskFull``, ``ServiceUnavailable`` past the wait, else the error itself."""
        if is_disk_full(error):  # a server's full disk (no path of ours) stops the campaign as our own does
            return DiskFull(self.disk_path or self.service, describe(error))
        if self.transient(error) and not is_disk_full(error):
            return self._give_up(error)
        return error

    def _failed_during_outage(self, error: BaseException) -> bool:
        if not self.transient(error) or is_disk_full(error):
            return False
        with self._lock:
            if self._down_since is None:
                self._down_since, self._gave_up = time.monotonic(), False
                LOG.warning("%s stopped answering (%s); courses wait for it, retrying, for up to %.0f s",
                            self.service, describe(error), self.settings.max_wait)
        return True

    def _past_the_wait(self) -> bool:
        with self._lock:
            return self._down_since is not None and time.monotonic() - self._down_since >= self.settings.max_wait

    def _give_up(self, error: BaseException) -> ServiceUnavailable:
        with self._lock:
            waited = time.monotonic() - self._down_since if self._down_since is not None else 0.0
            if not self._gave_up:
                self._gave_up = True
                LOG.warning("%s still not answering after %.0f s: its courses stop as interrupted; `resume` "
                            "finishes them once it is back", self.service, waited)
        return ServiceUnavailable(self.service, waited, describe(error))

    def _answered(self) -> None:
        if self._down_since is None:  # the common case, read without the lock
            return
        with self._lock:
            if self._down_since is not None:
                LOG.warning("%s answers again after %.0f s; the courses go on", self.service,
                            time.monotonic() - self._down_since)
                self._down_since = None
