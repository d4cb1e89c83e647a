"""Job queue: Huey on SQLite by default, Redis for many workers, memory in tests.

Tasks are plain functions that take ids, registered with ``@job``. At app
start each is wrapped into a Huey task that runs inside an app context, with
one unit of work per run: commit on success, roll back on error. Face work
runs only here, never in a web request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab

log = logging.getLogger("consentflow.jobs")


@dataclass(frozen=True)
class JobSpec:
    func: Callable[..., Any]
    retries: int
    retry_delay: int
    retry_backoff: float
    every_minutes: int | None = None  # also run periodically in the worker
    daily_at_hour: int | None = None  # also run once a day at this hour (UTC) in the worker


_REGISTRY: dict[str, JobSpec] = {}

# Modules whose import registers jobs; features append to this list.
JOB_MODULES: list[str] = ["consentflow.consent.outbox", "consentflow.consent.tasks",
                          "consentflow.photos.tasks", "consentflow.publish.tasks"]


def job(
    name: str, *, retries: int = 3, retry_delay: int = 10, retry_backoff: float = 2.0,
    every_minutes: int | None = None, daily_at_hour: int | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a job function under a stable name; retries back off exponentially.

    ``every_minutes`` also schedules it periodically in the worker (used for
    recovery work such as re-queueing photos of a worker that was killed);
    ``daily_at_hour`` once a day at that UTC hour (reminders, turning 16).
    """

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        _REGISTRY[name] = JobSpec(func, retries, retry_delay, retry_backoff, every_minutes, daily_at_hour)
        return func

    return decorator


@dataclass
class Queue:
    huey: Huey
    tasks: dict[str, Any] = field(default_factory=dict)

    def enqueue(self, name: str, *args: Any) -> Any:
        return self.tasks[name](*args)

    def enqueue_in(self, seconds: float, name: str, *args: Any) -> Any:
        """Queue a job to run in ``seconds`` (kept by the queue, not by this process)."""
        return self.tasks[name].schedule(args=args, delay=seconds)

    def run_pending(self, limit: int = 10_000) -> int:
        """Execute queued tasks in this process (tests, CLI one-shot runs)."""
        done = 0
        while done < limit:
            task = self.huey.dequeue()
            if task is None:
                break
            self.huey.execute(task)
            done += 1
        return done

    def pending_count(self) -> int:
        return int(self.huey.pending_count())


def _build_huey(app: Flask) -> Huey:
    backend = app.config["QUEUE_BACKEND"]
    name = app.config["QUEUE_NAME"]
    immediate = bool(app.config["QUEUE_IMMEDIATE"])
    if backend == "redis":
        return RedisHuey(name, url=app.config["REDIS_URL"], immediate=immediate)
    if backend == "memory":
        return MemoryHuey(name, immediate=immediate)
    if backend == "sqlite":
        return SqliteHuey(name, filename=app.config["QUEUE_SQLITE_PATH"], immediate=immediate)
    raise ValueError(f"Unknown QUEUE_BACKEND {backend!r} (sqlite, redis or memory)")


def _in_app_context(app: Flask, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    from consentflow.extensions import db

    def run(*args: Any) -> Any:
        with app.app_context():
            log.info("job %s%s start", name, args)
            try:
                result = func(*args)
                db.session.commit()
                return result
            except Exception:
                db.session.rollback()
                log.exception("job %s%s failed", name, args)
                raise
            finally:
                db.session.remove()  # type: ignore[attr-defined]  # scoped_session's own method

    run.__name__ = name
    return run


def init_queue(app: Flask) -> Queue:
    import importlib

    for module in JOB_MODULES:
        importlib.import_module(module)
    huey = _build_huey(app)

    @huey.on_startup()
    def _fresh_connections() -> None:
        # Worker processes are forked: never share pooled connections.
        from consentflow.extensions import db

        with app.app_context():
            db.engine.dispose(close=False)

    queue = Queue(huey)
    for name, spec in _REGISTRY.items():
        run = _in_app_context(app, name, spec.func)
        queue.tasks[name] = huey.task(
            retries=spec.retries, retry_delay=spec.retry_delay,
            retry_backoff=spec.retry_backoff, name=name,
        )(run)
        if spec.every_minutes:
            huey.periodic_task(crontab(minute=f"*/{spec.every_minutes}"), name=f"{name}.periodic")(run)
        if spec.daily_at_hour is not None:
            huey.periodic_task(crontab(minute="0", hour=str(spec.daily_at_hour)), name=f"{name}.daily")(run)
    app.extensions["consentflow.queue"] = queue
    return queue


def periodic_due(queue: Queue, moment: datetime) -> list[str]:
    """Names of the periodic tasks the worker's scheduler starts at ``moment`` (UTC)."""
    return sorted(task.name for task in queue.huey.read_periodic(moment))


def get_queue(app: Flask | None = None) -> Queue:
    return (app or current_app).extensions["consentflow.queue"]  # type: ignore[no-any-return]


def enqueue(name: str, *args: Any) -> Any:
    return get_queue().enqueue(name, *args)


def enqueue_in(seconds: float, name: str, *args: Any) -> Any:
    return get_queue().enqueue_in(seconds, name, *args)
