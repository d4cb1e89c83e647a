"""Leases on background work: a claimed job renews its stamp while it runs.

A worker claims a photo (or a publication) by stamping it with the claim
time; the stamp is the lease. While the long part of the job runs (face
detection, rendering), a ``Heartbeat`` thread moves the stamp forward every
``every`` seconds by a conditional UPDATE on its own connection, so:

* a live worker's job is never taken over, however long it takes;
* a worker killed with SIGKILL stops renewing, its lease expires after the
  configured lease time, and the periodic sweeper re-queues the job, which
  the next worker claims by the same conditional UPDATE (exactly one wins).

The heartbeat is stopped before the job records its result; the caller then
re-checks its claim with the last stamp written (``Heartbeat.stamp``), so a
worker whose lease was taken over records nothing. Pure SQLAlchemy: no Flask.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType

from sqlalchemy.engine import Connection, Engine

log = logging.getLogger("consentflow.lease")

# renew(connection, current stamp, new stamp) -> True if the row still carried ``current``.
Renew = Callable[[Connection, datetime, datetime], bool]


def heartbeat_interval(lease: timedelta) -> float:
    """Renew four times per lease: one late or failed renewal never loses the lease."""
    return max(0.2, lease.total_seconds() / 4)


class Heartbeat:
    """Renews one claim's stamp in a daemon thread until stopped (a context manager)."""

    def __init__(self, engine: Engine, renew: Renew, stamp: datetime, *, every: float,
                 clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._renew = renew
        self._stamp = stamp
        self._every = every
        self._clock = clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="lease-heartbeat", daemon=True)
        self.lost = False

    @property
    def stamp(self) -> datetime:
        """The stamp last written: what the claim must still carry when the job records."""
        with self._lock:
            return self._stamp

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> datetime:
        """Stop renewing (waits for a renewal in flight) and return the final stamp."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        return self.stamp

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            new = self._clock()
            try:
                with self._engine.begin() as conn:
                    renewed = self._renew(conn, self.stamp, new)
            except Exception:  # noqa: BLE001 - a failed renewal is retried next beat
                # The database may be busy for a moment; the lease is four
                # beats long, so the next beat still renews in time.
                log.warning("lease renewal failed; retrying", exc_info=True)
                continue
            if not renewed:
                # Taken over (or finished elsewhere): the job will find out
                # when it re-checks its claim and will record nothing.
                self.lost = True
                return
            with self._lock:
                self._stamp = new
