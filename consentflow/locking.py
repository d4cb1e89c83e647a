"""One writer at a time per object, for use cases that read and then write.

Recording consent reads the record in force and writes the one that
supersedes it; a roster import reads the school's people and creates the
missing ones. Two of those at the same moment would both read the same
state: a forked consent chain (a withdrawal that misses its takedown), or a
second insert of the same pupil (an IntegrityError, a 500).

``serialise`` takes the object's row lock before the read: on PostgreSQL
``SELECT ... FOR NO KEY UPDATE`` (a second caller waits until the first
commits, then reads its result; inserts that merely refer to the row are
not blocked); on SQLite a no-op UPDATE, which takes the database write lock
(the same, with the busy timeout). Both wait rather than fail, so the user
never sees "database is locked". Pure SQLAlchemy: no Flask.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session


def serialise(session: Session, model: Any, object_id: int) -> None:
    """Hold ``model`` row ``object_id`` for this transaction (until commit or rollback)."""
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(model.id).where(model.id == object_id)
                        .with_for_update(key_share=True))
        return
    session.execute(
        update(model).where(model.id == object_id).values(id=model.id)
        .execution_options(synchronize_session=False)
    )
