"""What a school administrator may do to an account (no Flask).

A user may work in several schools. An administrator changes the roles a
user holds in the schools that administrator runs; the account itself (e-mail
address, password, active state) is shared by every school, so only an
administrator of *all* the user's schools may change it. Taking someone's
access away in one school is done by removing their roles in that school.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.audit.service import Actor, record_event
from consentflow.auth.service import grant_role, normalise_email
from consentflow.errors import Forbidden, InvalidInput
from consentflow.models import School, User
from consentflow.models.user import ROLES

# Fields of the account shared by all the user's schools.
CREDENTIAL_FIELDS = ("email", "password", "active")


def may_manage_credentials(target: User, admin_school_ids: set[int]) -> bool:
    """True when every school the user works in is administered by the acting administrator."""
    if target.board_admin_of_id is not None:
        return False  # board administrators are managed from the command line
    return {m.school_id for m in target.memberships} <= admin_school_ids


def check_credential_change(target: User, admin_school_ids: set[int], changed: Iterable[str]) -> None:
    """Refuse a change of e-mail, password or active state of a user shared with other schools."""
    touched = [f for f in changed if f in CREDENTIAL_FIELDS]
    if touched and not may_manage_credentials(target, admin_school_ids):
        raise Forbidden(_(
            "This user also works at a school you do not administer. You can change their roles "
            "in your school, but not their e-mail address, password or active state. To end their "
            "access here, remove their roles in your school."
        ))


def check_new_email(session: Session, email: str) -> str:
    """A new account needs an e-mail address that no account uses yet."""
    email = normalise_email(email)
    if "@" not in email:
        raise InvalidInput(_("That is not an e-mail address."))
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise InvalidInput(_(
            "An account with this e-mail address already exists. Ask an administrator of that "
            "user's school to give them a role in yours."
        ))
    return email


def parse_role_choices(values: Iterable[str], schools: dict[int, School]) -> set[tuple[int, str]]:
    """Turn "school_id:role" choices into pairs, refusing schools the administrator does not run."""
    pairs: set[tuple[int, str]] = set()
    for value in values:
        school_id, _sep, role = value.partition(":")
        if not school_id.isdigit() or int(school_id) not in schools or role not in ROLES:
            raise InvalidInput(_("Choose roles in the schools you administer."))
        pairs.add((int(school_id), role))
    return pairs


def set_roles(
    session: Session, *, actor: Actor, user: User, wanted: set[tuple[int, str]],
    schools: dict[int, School],
) -> dict[int, list[str]]:
    """Make the user's roles in ``schools`` exactly ``wanted``; roles elsewhere are untouched."""
    for membership in list(user.memberships):
        if membership.school_id in schools and (membership.school_id, membership.role) not in wanted:
            user.memberships.remove(membership)
            session.flush()
            record_event(session, actor=actor, action="user.revoke_role", object_type="user",
                         object_id=user.id, school_id=membership.school_id,
                         details={"role": membership.role})
    for school_id, role in sorted(wanted):
        grant_role(session, actor=actor, user=user, school=schools[school_id], role=role)
    by_school: dict[int, list[str]] = {}
    for school_id, role in sorted(wanted):
        by_school.setdefault(school_id, []).append(role)
    return by_school

