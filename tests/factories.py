"""Small factories for tests; they flush, the test decides when to commit."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from consentflow.audit.service import Actor
from consentflow.auth.service import create_user
from consentflow.models import Album, Guardian, Person, School

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


def school(session: Any, name: str | None = None, **kwargs: Any) -> School:
    n = next(_seq)
    obj = School(name=name or f"School {n}", slug=f"school-{n}", **kwargs)
    session.add(obj)
    session.flush()
    return obj


def user(session: Any, *, school: School, roles: tuple[str, ...] = ("teacher",),
         email: str | None = None) -> Any:
    n = next(_seq)
    return create_user(
        session, actor=Actor.system("test"), email=email or f"user{n}@example.org",
        name=f"User {n}", password=PASSWORD, roles=[(school, r) for r in roles],
    )


def person(session: Any, *, school: School, dob: date = date(2012, 5, 1), kind: str = "student",
           group: str = "2A", first: str = "Sam", last: str | None = None,
           external_id: str | None = None) -> Person:
    n = next(_seq)
    obj = Person(school_id=school.id, kind=kind, external_id=external_id or f"S{n:05d}",
                 first_name=first, last_name=last or f"Student{n}", date_of_birth=dob,
                 group_name=group)
    session.add(obj)
    session.flush()
    return obj


def guardian(session: Any, *, school: School, children: list[Person] | tuple[Person, ...] = (),
             name: str | None = None, email: str | None = None) -> Guardian:
    n = next(_seq)
    obj = Guardian(school_id=school.id, name=name or f"Guardian {n}",
                   email=email or f"guardian{n}@example.org")
    obj.children.extend(children)
    session.add(obj)
    session.flush()
    return obj


def album(session: Any, *, school: School, created_by: Any = None,
          purposes: tuple[str, ...] = ("website", "social_media"), title: str = "Sports day") -> Album:
    obj = Album(school_id=school.id, title=title, event_date=date(2026, 10, 1),
                description="", maker="J. Fotograaf", purposes=list(purposes),
                created_by_id=created_by.id if created_by else None)
    session.add(obj)
    session.flush()
    return obj
