"""THE authorisation table: who may call each endpoint of the app, for their own school.

tests/web/test_access_matrix.py calls every endpoint of ``app.url_map``
(Flask-Admin's included) with every method it accepts, as anonymous and as
teacher / pr / admin / privacy of the school that owns the objects and of
another school, and checks the answer against this table:

- ``staff(...)``: a logged-in user holding one of the roles in the current
  school may call it; any other role gets 403; anonymous is sent to the
  login page; a user of another school gets 404 (or 403) for every object id.
- ``logged_in()``: any logged-in user (each acts on their own account).
- ``api(...)``: a bearer token whose user holds one of the roles in the
  token's school; no token: 401; other role: 403; other school's object: 404.
- ``link()``: the public consent pages; the token in the URL decides (a
  valid token works without login; a made-up token is refused).
- ``public()``: login page, static files and the like.
- ``sign_in_step()``: the steps of signing in (school account, second
  factor, forgotten password, invitation link): reachable without a login;
  what they need (a pending password step, an enabled provider, a signed
  link) decides, so with the matrix's made-up values they must refuse or
  send back to the login page, never show a signed-in page or fail with 500.
  Their full flows are tested in tests/web/test_signin_links.py and the
  browser tests against a real OpenID provider.

Teachers see only the albums they created (the matrix's albums are the
teacher's); another teacher's album is a 404 like another school's.

A new endpoint without an entry here fails the matrix with its name: add it
with the roles the feature's spec gives it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

ROLES = ("teacher", "pr", "admin", "privacy")
ALL_ROLES = frozenset(ROLES)


@dataclass(frozen=True)
class Rule:
    kind: str  # "staff" | "logged_in" | "api" | "link" | "public" | "sign_in_step"
    roles: Mapping[str, frozenset[str]] = field(default_factory=dict)  # method -> roles (own school)
    # Statuses that count as "let through" for this endpoint besides the usual
    # ones (e.g. a Flask-Admin ajax lookup with no lookup configured is a 404
    # by design, after the access check passed).
    allowed_extra: frozenset[int] = frozenset()
    # The request ends the client's login (logout): it gets a login of its own.
    own_login: bool = False
    # Flask-Admin has this feature switched off for the view: whoever may use
    # the view is redirected to the list, also with another school's id.
    disabled: bool = False

    def allowed(self, method: str, role: str | None) -> bool:
        if self.kind in ("public", "link", "sign_in_step"):
            return True
        if role is None:
            return False
        if self.kind == "logged_in":
            return True
        return role in self.roles[method]


def staff(*roles: str, post: tuple[str, ...] | None = None, **kw: object) -> Rule:
    """Session login with one of ``roles`` (``post``: other roles for POST)."""
    get = frozenset(roles)
    return Rule("staff", {"GET": get, "POST": frozenset(post) if post is not None else get}, **kw)  # type: ignore[arg-type]


def api(*roles: str) -> Rule:
    return Rule("api", {"GET": frozenset(roles), "POST": frozenset(roles)})


def logged_in(**kw: object) -> Rule:
    return Rule("logged_in", **kw)  # type: ignore[arg-type]


def link() -> Rule:
    return Rule("link")


def public() -> Rule:
    return Rule("public")


def sign_in_step() -> Rule:
    return Rule("sign_in_step")


# Flask-Admin: each model view registers the same nine endpoints. Disabled
# features (create/edit/delete/export switched off) redirect to the list after
# the access check, which the matrix counts as let through.
ADMIN_ENDPOINTS = ("index_view", "details_view", "create_view", "edit_view", "delete_view",
                   "action_view", "export", "ajax_lookup", "ajax_update")


def admin_view(endpoint: str, *roles: str, extra: tuple[str, ...] = (),
               disabled: tuple[str, ...] = ()) -> dict[str, Rule]:
    """The entries of one Flask-Admin model view.

    ``extra``: the view's own @expose endpoints; ``disabled``: the object views
    it switches off (can_edit / can_view_details False).
    """
    def entry(name: str) -> Rule:
        if name.startswith("ajax_"):
            # 400/404 for a lookup or inline edit that is not configured, after
            # the access check: only these two get the extra codes.
            return staff(*roles, allowed_extra=frozenset({400, 404}))
        return staff(*roles, disabled=name in disabled)

    return {f"{endpoint}.{name}": entry(name) for name in ADMIN_ENDPOINTS + extra}


TEACHER_PR = ("teacher", "pr")

ACCESS: dict[str, Rule] = {
    # --- public -------------------------------------------------------------
    "static": public(),
    "admin.static": public(),
    "auth.login": public(),
    "auth.switch_language": public(),
    "api.v1.openapi": public(),
    "signin.school_login": public(),
    "signin.forgot": public(),
    "signin.oidc_start": sign_in_step(),
    "signin.oidc_callback": sign_in_step(),
    "signin.second_factor": sign_in_step(),
    "signin.enrol": sign_in_step(),
    "signin.send_enrol_link": sign_in_step(),
    "signin.account_link": sign_in_step(),
    "signin.account_link_school": sign_in_step(),
    # --- consent links (the token is the authority) --------------------------
    "consent.public.consent_page": link(),
    "consent.public.done": link(),
    "consent.public.overview": link(),
    "consent.public.publication_image": link(),
    # --- any logged-in user, on their own account ---------------------------
    "home.index": logged_in(),  # the tiles follow the roles
    "auth.logout": logged_in(own_login=True),
    "auth.switch_school": logged_in(),
    "auth.my_sessions": staff(*ROLES),
    "auth.end_my_session": staff(*ROLES),
    "signin.account_second_factor": staff(*ROLES),
    # 404 after the access check for a user without a second factor (nothing to renew).
    "signin.new_recovery_codes": staff(*ROLES, allowed_extra=frozenset({404})),
    "signin.second_factor_off": staff(*ROLES),
    "signin_provider.index": staff("admin"),
    # --- API tokens (web pages) and the API ---------------------------------
    "api.tokens": staff("teacher", "pr", "admin"),
    "api.create_token": staff("teacher", "pr", "admin"),
    "api.revoke_token": staff("teacher", "pr", "admin"),
    "api.v1.list_albums": api(*TEACHER_PR),
    "api.v1.create_album": api(*TEACHER_PR),
    "api.v1.get_album": api(*TEACHER_PR),
    "api.v1.upload_photos": api(*TEACHER_PR),
    "api.v1.get_photo": api(*TEACHER_PR),
    "api.v1.get_faces": api("pr"),  # match results and decisions: never for teachers
    # --- albums and photos --------------------------------------------------
    "photos.albums": staff(*TEACHER_PR),
    "photos.new_album": staff(*TEACHER_PR),
    "photos.album": staff(*TEACHER_PR),
    "photos.album_status": staff(*TEACHER_PR),
    "photos.upload": staff(*TEACHER_PR),
    "photos.upload_post": staff(*TEACHER_PR),
    "photos.retry_photo": staff(*TEACHER_PR),
    "photos.retry_failed": staff(*TEACHER_PR),
    "photos.thumbnail": staff(*TEACHER_PR),
    "photos.original": staff("pr", "admin"),
    "photos.album_match_again": staff("admin", "pr"),
    "photos.school_match_again": staff("admin", "pr"),
    "photos.school_status": staff("admin", "pr"),
    "photos.references": staff("admin"),
    "photos.reference_person": staff("admin"),
    "photos.reference_delete": staff("admin"),
    # --- review (pr only) ---------------------------------------------------
    "review.index": staff("pr"),
    "review.album": staff("pr"),
    "review.faces": staff("pr"),
    "review.photo": staff("pr"),
    "review.people": staff("pr"),
    "review.bulk": staff("pr"),
    "review.assign": staff("pr"),
    "review.image": staff("pr"),
    "review.crop": staff("pr"),
    "review.preview": staff("pr"),
    "review.decide": staff("pr"),
    "review.undo": staff("pr"),
    "review.draw": staff("pr"),
    "review.purpose": staff("pr"),
    # --- publication (pr only) ----------------------------------------------
    "publish.publish": staff("pr"),
    "publish.status": staff("pr"),
    "publish.redaction": staff("pr"),
    "publish.publication": staff("pr", "admin"),  # admins see what a takedown must remove
    "publish.download": staff("pr"),
    "publish.image": staff("pr", "admin"),
    "publish.album": staff("pr"),
    "publish.bundle": staff("pr"),
    "publish.takedowns": staff("pr", "admin"),
    "publish.takedown_done": staff("pr"),
    # The matrix's world holds a photo, not a video: after the access check the
    # video views answer 404 for it ("not a video"); their own-school use is
    # tested in tests/jobs/test_video_product.py and tests/e2e/test_video_flow.py.
    "videos.audio": staff("pr", allowed_extra=frozenset({404})),
    "videos.make_preview": staff("pr", allowed_extra=frozenset({404})),
    "videos.preview_status": staff("pr", allowed_extra=frozenset({404})),
    "videos.preview": staff("pr", allowed_extra=frozenset({404})),
    "videos.published": staff("pr", "admin", allowed_extra=frozenset({404})),
    # --- consent administration (admin) -------------------------------------
    "consent.index": staff("admin"),
    "consent.create_year": staff("admin"),
    "consent.new_form": staff("admin"),
    "consent.show_form": staff("admin"),
    "consent.start_round": staff("admin"),
    "consent.show_round": staff("admin"),
    "consent.end_round": staff("admin"),
    "consent.revoke": staff("admin"),
    "consent.resend": staff("admin"),
    "consent.outbox": staff("admin"),
    "consent.send_outbox": staff("admin"),
    "consent.conflicts": staff("admin"),
    "consent.turned_16": staff("admin"),
    "consent.invite_self": staff("admin"),
    "consent.send_link": staff("admin"),
    "consent.link_letter": staff("admin"),
    "consent.round_letters": staff("admin"),
    "consent.round_newcomers": staff("admin"),
    "consent.round_reminders": staff("admin"),
    "consent.coverage.index": staff("admin", "privacy"),
    "consent.coverage.export": staff("admin", "privacy"),
    "consent.records.person": staff("admin", "privacy"),
    "consent.records.record": staff("admin"),
    "consent.records.evidence": staff("admin", "privacy"),
    "people.import_roster": staff("admin"),
    "people.confirm_leavers": staff("admin"),
    # --- privacy officer ----------------------------------------------------
    "privacy.index": staff("privacy", "admin"),
    "privacy.person": staff("privacy", "admin"),
    "privacy.export": staff("privacy", "admin"),
    "privacy.erase": staff("admin"),
    # --- Flask-Admin --------------------------------------------------------
    "admin.index": staff("admin", "privacy"),
    **admin_view("person", "admin"),
    **admin_view("guardian", "admin"),
    **admin_view("consentform", "admin"),
    **admin_view("consentrecord", "admin", "privacy", disabled=("edit_view",)),
    **admin_view("auditevent", "admin", "privacy", disabled=("edit_view",)),
    **admin_view("user", "admin", extra=("end_sessions_view", "invite_view"), disabled=("details_view",)),
    **admin_view("school", "admin", disabled=("details_view",)),
}
