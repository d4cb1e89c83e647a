"""Demo students, staff and guardians."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.models import Guardian, Person, School

# (student number, first, last, date of birth, class, guardian name, guardian e-mail)
DEMO_STUDENTS = (
    ("100001", "Barack", "de Vries", date(2011, 3, 14), "2A", "Michelle de Vries", "m.devries@example.org"),
    ("100002", "Joe", "Jansen", date(2010, 11, 20), "2A", "Jill Jansen", "j.jansen@example.org"),
    ("100003", "Lin", "Bakker", date(2008, 1, 16), "5V", "Luz Bakker", "l.bakker@example.org"),
    ("100004", "Tom", "Visser", date(2012, 7, 3), "1B", "Mary Visser", "m.visser@example.org"),
)


def load_demo_people(session: Session, school: School, actor: Actor) -> None:
    for number, first, last, dob, group, g_name, g_email in DEMO_STUDENTS:
        exists = session.scalar(
            select(Person).where(Person.school_id == school.id, Person.external_id == number)
        )
        if exists:
            continue
        person = Person(school_id=school.id, kind="student", external_id=number, first_name=first,
                        last_name=last, date_of_birth=dob, group_name=group, enrolled_on=date(2024, 8, 1))
        guardian = Guardian(school_id=school.id, name=g_name, email=g_email)
        person.guardians.append(guardian)
        session.add_all([person, guardian])
        session.flush()
        record_event(session, actor=actor, school_id=school.id, action="person.create",
                     object_type="person", object_id=person.id, subject_ids=[person.id],
                     personal={"name": person.full_name})
