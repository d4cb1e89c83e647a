"""Coverage dashboard: per class × purpose consented / refused / missing, whom to remind, CSV."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from sqlalchemy import select

from consentflow.audit.service import record_event
from consentflow.auth.access import current_actor, get_owned, require_role, require_school
from consentflow.consent.coverage import compute_coverage, counts_csv, group_label, remind_csv
from consentflow.consent.signer import local_date
from consentflow.consent.years import school_year_on
from consentflow.exports import attachment
from consentflow.extensions import db
from consentflow.models import SchoolYear, utcnow

bp = Blueprint("coverage", __name__, url_prefix="/coverage")


def _year(school_id: int) -> SchoolYear | None:
    year_id = request.args.get("year", type=int)
    if year_id:
        return get_owned(SchoolYear, year_id)
    today = local_date(utcnow())
    return school_year_on(db.session, school_id, today) or db.session.scalar(
        select(SchoolYear).where(SchoolYear.school_id == school_id).order_by(SchoolYear.starts_on.desc()).limit(1))


@bp.route("/")
@require_role("admin", "privacy")
def index() -> Any:
    school = require_school()
    year = _year(school.id)
    years = list(db.session.scalars(select(SchoolYear).where(SchoolYear.school_id == school.id)
                                    .order_by(SchoolYear.starts_on.desc())))
    group = request.args.get("group") or None
    cov = compute_coverage(db.session, school_id=school.id, year=year, today=local_date(utcnow()),
                           group=group) if year else None
    return render_template("consent/coverage.html", cov=cov, years=years, year=year, group=group,
                           group_label=group_label)


@bp.route("/export.csv")
@require_role("admin", "privacy")
def export() -> Any:
    school = require_school()
    year = _year(school.id)
    if year is None:
        abort(404)
    kind = request.args.get("kind", "counts")
    if kind not in ("counts", "remind"):
        abort(400)
    group = request.args.get("group") or None
    cov = compute_coverage(db.session, school_id=school.id, year=year, today=local_date(utcnow()), group=group)
    body = counts_csv(cov) if kind == "counts" else remind_csv(cov)
    record_event(db.session, actor=current_actor(), school_id=school.id, action=f"coverage.export_{kind}",
                 object_type="school_year", object_id=year.id,
                 subject_ids=[r.person.id for r in cov.remind] if kind == "remind" else None,
                 details={"group": group, "rows": len(cov.remind) if kind == "remind" else len(cov.groups)})
    db.session.commit()
    filename = f"coverage-{kind}-{year.label}{'-' + group if group else ''}.csv"
    return Response("\ufeff" + body, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": attachment(filename)})
