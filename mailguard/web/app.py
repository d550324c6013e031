"""The web UI's routes. Thin on purpose: read the form, call the service, render.

Security, in the order a request meets it: security headers on every response (a
strict CSP, no framing, no referrer, no caching); a login for every page but the
sender link; a CSRF token on every form; roles checked by the service (and the
user pages for admins only).
"""

from __future__ import annotations

import csv
import datetime as dt
import hmac
import io
import ipaddress
import secrets
import time
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailguard.accounts.oidc import PENDING_SECONDS, OidcClient, OidcError
from mailguard.accounts.signin import SignInRefused, SignInUnavailable, StaffSignIn
from mailguard.accounts.users import (
    STAFF_ROLES,
    AccountError,
    LoginThrottle,
    Session,
    User,
    UserStore,
)
from mailguard.incidents.service import IncidentError, Incidents
from mailguard.ledger.store import Ledger
from mailguard.log import get_logger
from mailguard.metrics import Metrics
from mailguard.quarantine.links import BadLink, SenderLinks
from mailguard.quarantine.service import (
    Actor,
    NotAllowed,
    QuarantineError,
    QuarantineService,
    Role,
)
from mailguard.quarantine.store import HeldMessage, Search, State
from mailguard.reports import html as report_html
from mailguard.reports.summary import Summary, from_ledger
from mailguard.web.render import safe_html, view_of

log = get_logger()

SESSION_COOKIE = "mg_session"
OIDC_COOKIE = "mg_oidc"  # the pending sign-in: state, nonce, PKCE verifier (signed)
ANON_CSRF_COOKIE = "mg_csrf"
PAGE_SIZE = 50
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
BODY_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'self'"
DONE = {
    "released": "Released: the message has been delivered.",
    "approved": "Approved: the message has been delivered.",
    "requested": "Release requested: a different approver must now approve it.",
    "rejected": "Rejected: the message will never be delivered; its content is deleted.",
    "cancelled": "Cancelled: the message will not be sent.",
    "review": "A reviewer has been asked to look at it.",
    "user": "User saved.",
}


@dataclass
class WebContext:
    service: QuarantineService
    users: UserStore
    links: SenderLinks
    link_days: Callable[[], int]  # a sender link lives as long as the hold
    secure_cookies: bool = False
    session_hours: float = 8.0
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/London"))
    ready: Callable[[], tuple[bool, str]] | None = None
    metrics: Metrics | None = None
    metrics_allow: tuple[Any, ...] = ()
    incidents: Incidents | None = None  # deletion confirmations (no login: a signed link)
    ledger: Ledger | None = None  # the Reports page
    sign_in: StaffSignIn | None = None  # council accounts: directory binds, roles by group
    oidc: OidcClient | None = None  # ... or an OpenID provider


def build_app(ctx: WebContext) -> Starlette:
    env = Environment(
        loader=PackageLoader("mailguard.web", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda t: _when(t, ctx.timezone)
    env.filters["age"] = _age
    env.globals["DONE"] = DONE
    web = _Web(ctx, env)
    routes = [
        Route("/", lambda r: RedirectResponse("/held", 303)),
        Route("/login", web.login_form, methods=["GET"]),
        Route("/login", web.login, methods=["POST"]),
        Route("/login/oidc", web.oidc_start, methods=["GET"]),
        Route("/login/oidc/callback", web.oidc_callback, methods=["GET"]),
        Route("/logout", web.staff(web.logout), methods=["POST"]),
        Route("/held", web.staff(web.held_list)),
        Route("/held/{id}", web.staff(web.held_detail)),
        Route("/held/{id}/body", web.staff(web.held_body)),
        Route("/held/{id}/incident", web.staff(web.open_incident, dpo=True), methods=["POST"]),
        Route("/held/{id}/{action}", web.staff(web.held_action), methods=["POST"]),
        Route("/audit", web.staff(web.audit)),
        Route("/audit.csv", web.staff(web.audit_csv)),
        Route("/users", web.staff(web.users, admin=True), methods=["GET", "POST"]),
        Route("/reports", web.staff(web.reports, dpo=True)),
        Route("/incidents", web.staff(web.incidents, dpo=True)),
        Route("/incidents/{id}", web.staff(web.incidents, dpo=True)),
        Route(
            "/incidents/{id}/{action}", web.staff(web.incident_action, dpo=True), methods=["POST"]
        ),
        Route("/s/{token}", web.sender_page, methods=["GET"]),
        Route("/s/{token}/{action}", web.sender_action, methods=["POST"]),
        Route("/d/{token}", web.deletion_page, methods=["GET"]),
        Route("/d/{token}", web.deletion_confirm, methods=["POST"]),
        Route("/healthz", web.healthz),
        Route("/metrics", web.metrics),
        Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
    ]
    return _secure(Starlette(routes=routes))


Endpoint = Callable[[Request], Awaitable[Response]]


class _Web:
    def __init__(self, ctx: WebContext, env: Environment) -> None:
        self.ctx = ctx
        self.env = env
        self.throttle = LoginThrottle(ctx.users.db)  # in the users' database: shared

    # --- plumbing --------------------------------------------------------------------

    def render(
        self, request: Request, template: str, status: int = 200, **values: Any
    ) -> HTMLResponse:
        session: Session | None = getattr(request.state, "session", None)
        page = self.env.get_template(template).render(
            user=session.user if session else None,
            csrf=session.csrf if session else getattr(request.state, "anon_csrf", ""),
            request=request,
            oidc_label=self.ctx.oidc.settings.label if self.ctx.oidc else "",
            **values,
        )
        response = HTMLResponse(page, status_code=status)
        anon = getattr(request.state, "set_anon_csrf", None)
        if anon:
            response.set_cookie(
                ANON_CSRF_COOKIE, anon, httponly=True, samesite="strict",
                secure=self.ctx.secure_cookies, path="/",
            )  # fmt: skip
        return response

    def error(self, request: Request, status: int, message: str) -> HTMLResponse:
        return self.render(request, "error.html", status, code=status, message=message)

    def staff(self, endpoint: Endpoint, *, admin: bool = False, dpo: bool = False) -> Endpoint:
        """Login required; POSTs need the session's CSRF token; admin pages need admin;
        ``dpo`` pages (reports, incidents) admin or the data protection officer."""

        async def guarded(request: Request) -> Response:
            token = request.cookies.get(SESSION_COOKIE, "")
            session = self.ctx.users.session(token) if token else None
            if session is not None and self.ctx.sign_in is not None:
                session = await self._still_allowed(session)
            if session is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target)}", 303)
            request.state.session = session
            if request.method == "POST":
                form = await request.form()
                if not hmac.compare_digest(str(form.get("csrf", "")), session.csrf):
                    return self.error(request, 403, "The form was stale or forged. Try again.")
                request.state.form = form
            if dpo and session.user.role not in (Role.ADMIN, Role.DPO):
                return self.error(
                    request,
                    403,
                    "Only an administrator or the data protection officer can open this page.",
                )
            if admin and session.user.role is not Role.ADMIN:
                return self.error(request, 403, "Only an administrator can open this page.")
            return await endpoint(request)

        return guarded

    async def _still_allowed(self, session: Session) -> Session | None:
        """A council account's groups are asked again on every request: a leaver, or
        someone taken out of the group, is signed out at their next click."""
        assert self.ctx.sign_in is not None
        user = await self.ctx.sign_in.still_allowed(session.user)
        if user is None:
            return None
        return session if user == session.user else replace(session, user=user)

    async def anon_form(self, request: Request) -> FormData | None:
        """A form on a page without login: CSRF by a cookie the form must repeat."""
        form = await request.form()
        cookie = request.cookies.get(ANON_CSRF_COOKIE, "")
        if not cookie or not hmac.compare_digest(str(form.get("csrf", "")), cookie):
            return None
        return form

    def anon_csrf(self, request: Request) -> None:
        token = request.cookies.get(ANON_CSRF_COOKIE) or secrets.token_urlsafe(24)
        request.state.anon_csrf = token
        request.state.set_anon_csrf = token

    # --- login -----------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        self.anon_csrf(request)
        return self.render(request, "login.html", next=_safe_next(request.query_params))

    def render_login(self, request: Request, status: int, nxt: str, error: str) -> Response:
        return self.render(request, "login.html", status, next=nxt, error=error)

    def _signed_in(self, user: User, nxt: str, *, via_provider: bool = False) -> Response:
        token, _ = self.ctx.users.start_session(user, self.ctx.session_hours)
        if via_provider:
            # The provider's redirect is a cross-site navigation, which never carries
            # the SameSite=Strict session cookie: a page of ours moves on to the next.
            page = self.env.get_template("signed_in.html").render(next=nxt, user=None)
            response: Response = HTMLResponse(page)
        else:
            response = RedirectResponse(nxt, 303)
        response.set_cookie(
            SESSION_COOKIE, token, max_age=int(self.ctx.session_hours * 3600), httponly=True,
            samesite="strict", secure=self.ctx.secure_cookies, path="/",
        )  # fmt: skip
        return response

    async def oidc_start(self, request: Request) -> Response:
        if self.ctx.oidc is None:
            return self.error(request, 404, "Sign-in through a provider is not set up.")
        nxt = _safe_next(request.query_params)
        try:
            url, pending = await self.ctx.oidc.start(nxt)
        except OidcError as exc:
            log.error("oidc_unavailable", error=str(exc))
            self.anon_csrf(request)
            return self.render_login(
                request, 503, nxt, "The council sign-in service cannot be reached. Try again later."
            )
        response = RedirectResponse(url, 303)
        response.set_cookie(
            OIDC_COOKIE, pending, max_age=PENDING_SECONDS, httponly=True, samesite="lax",
            secure=self.ctx.secure_cookies, path="/login/oidc",
        )  # fmt: skip
        return response

    async def oidc_callback(self, request: Request) -> Response:
        oidc, q = self.ctx.oidc, request.query_params
        self.anon_csrf(request)
        if oidc is None or self.ctx.sign_in is None:
            return self.error(request, 404, "Sign-in through a provider is not set up.")
        if q.get("error"):
            log.info("oidc_sign_in_refused", error=str(q.get("error"))[:100])
            return self.render_login(request, 401, "/held", "The sign-in was cancelled or refused.")
        try:
            nonce, verifier, nxt = oidc.pending(
                request.cookies.get(OIDC_COOKIE, ""), str(q.get("state", ""))
            )
            claims = await oidc.finish(str(q.get("code", "")), nonce, verifier)
        except OidcError as exc:
            log.warning("oidc_sign_in_failed", error=str(exc))
            return self.render_login(request, 401, "/held", "The sign-in could not be completed.")
        try:
            user = self.ctx.sign_in.external(claims.username, claims.groups, "oidc")
        except SignInRefused as exc:
            return self.render_login(request, 403, nxt, str(exc))
        response = self._signed_in(user, nxt, via_provider=True)
        response.delete_cookie(OIDC_COOKIE, path="/login/oidc")
        return response

    async def login(self, request: Request) -> Response:
        form = await self.anon_form(request)
        self.anon_csrf(request)
        if form is None:
            return self.error(request, 403, "The form was stale or forged. Try again.")
        # One account, however it is typed (case, full-width letters): one throttle count.
        name = unicodedata.normalize("NFKC", str(form.get("name", ""))).strip()[:64]
        # The connecting address, or the one a trusted proxy (web_trusted_proxies) names.
        client = request.client.host if request.client else "?"
        nxt = _safe_next(form)
        if not self.throttle.attempt(name, client):
            return self.render(
                request, "login.html", 429, next=nxt,
                error="Too many failed attempts. Wait 15 minutes and try again.",
            )  # fmt: skip
        password = str(form.get("password", ""))
        try:
            if self.ctx.sign_in is not None:
                user = await self.ctx.sign_in.password(name, password)
            else:
                user = self.ctx.users.verify(name, password)
        except SignInUnavailable:
            return self.render_login(
                request, 503, nxt,
                "The council directory cannot be reached, so council accounts cannot sign"
                " in just now. Try again shortly.",
            )  # fmt: skip
        except SignInRefused as exc:
            return self.render_login(request, 403, nxt, str(exc))
        if user is None:
            return self.render_login(request, 401, nxt, "Wrong name or password.")
        self.throttle.succeeded(name, client)
        return self._signed_in(user, nxt)

    async def logout(self, request: Request) -> Response:
        self.ctx.users.end_session(request.cookies.get(SESSION_COOKIE, ""))
        response = RedirectResponse("/login", 303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # --- held mail -------------------------------------------------------------------

    async def held_list(self, request: Request) -> Response:
        q = request.query_params
        state_name = q.get("state", "held")
        state = None if state_name == "any" else _state(state_name)
        page = max(1, _int(q.get("page"), 1))
        search = Search(
            state=state,
            rule=q.get("rule") or None,
            sender=q.get("sender") or None,
            since=_date(q.get("since"), self.ctx.timezone),
            until=_date(q.get("until"), self.ctx.timezone, end=True),
            text=q.get("q") or None,
            offset=(page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
        messages, total = self.ctx.service.search(search)
        pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
        keep = {k: v for k, v in q.items() if k != "page" and v}
        return self.render(
            request,
            "list.html",
            messages=messages,
            total=total,
            page=page,
            pages=pages,
            query=q,
            state=state_name,
            states=["held", "released", "rejected", "expired", "any"],
            rules=self.ctx.service.store.rules(),
            page_url=lambda n: "/held?" + urlencode({**keep, "page": n}),
        )

    async def held_detail(self, request: Request) -> Response:
        held = self._held(request)
        if held is None:
            return self.error(request, 404, "No such held message.")
        return self._detail(request, held)

    def _detail(
        self, request: Request, held: HeldMessage, status: int = 200, error: str = ""
    ) -> HTMLResponse:
        session: Session = request.state.session
        raw = self.ctx.service.store.content(held.id)
        view, unreadable = None, False
        if raw is not None:
            try:
                view = view_of(raw)
            except Exception:  # e.g. MIME nested thousands deep: still decide on it
                unreadable = True
        return self.render(
            request,
            "detail.html",
            status,
            held=held,
            view=view,
            unreadable=unreadable,
            audit=self.ctx.service.store.audit_log(held.id),
            can=self.ctx.service.choices(held, session.user.actor),
            # A list whose outside recipients saw each other: releasing it as sent
            # would make the very leak it was held for, so the form starts at Bcc.
            bcc_first=any(f.detector == "bulk_visible" for f in held.findings),
            done=DONE.get(request.query_params.get("done", ""), ""),
            error=error,
        )

    async def held_body(self, request: Request) -> Response:
        held = self._held(request)
        raw = self.ctx.service.store.content(held.id) if held else None
        if raw is None:
            return PlainTextResponse("gone", 404)
        try:
            body = safe_html(raw)
        except Exception:
            body = "<p>This message cannot be displayed safely.</p>"
        response = HTMLResponse(body)
        response.headers["Content-Security-Policy"] = BODY_CSP
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        return response

    async def held_action(self, request: Request) -> Response:
        held = self._held(request)
        if held is None:
            return self.error(request, 404, "No such held message.")
        form: FormData = request.state.form
        actor: Actor = request.state.session.user.actor
        action = request.path_params["action"]
        reason = str(form.get("reason", ""))
        # The release forms list every recipient; none ticked means none, never all.
        recipients = [str(r) for r in form.getlist("recipient")]
        if not recipients and form.get("recipients_listed") is None:
            recipients = None  # a form without the list (CLI-like use): all of them
        as_bcc = form.get("mode") == "bcc"
        service = self.ctx.service
        try:
            if action == "release":
                await service.release(held.id, actor, reason, recipients=recipients, as_bcc=as_bcc)
                done = "released"
            elif action == "approve":
                await service.approve(held.id, actor, reason, recipients=recipients, as_bcc=as_bcc)
                done = "approved"
            elif action == "request":
                service.request_release(held.id, actor, reason)
                done = "requested"
            elif action == "reject":
                service.reject(held.id, actor, reason)
                done = "rejected"
            else:
                return self.error(request, 404, "No such action.")
        except NotAllowed as exc:
            return self._detail(request, service.get(held.id), 403, str(exc))
        except QuarantineError as exc:
            return self._detail(request, service.get(held.id), 400, str(exc))
        return RedirectResponse(f"/held/{held.id}?done={done}", 303)

    def _held(self, request: Request) -> HeldMessage | None:
        return self.ctx.service.store.get(request.path_params["id"])

    # --- audit -----------------------------------------------------------------------

    async def audit(self, request: Request) -> Response:
        page = max(1, _int(request.query_params.get("page"), 1))
        message_id = request.query_params.get("id") or None
        entries = self.ctx.service.store.audit_log(
            message_id, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE, newest_first=True
        )
        return self.render(
            request,
            "audit.html",
            entries=entries[:PAGE_SIZE],
            more=len(entries) > PAGE_SIZE,
            page=page,
            message_id=message_id or "",
        )

    async def audit_csv(self, request: Request) -> Response:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["time_utc", "message_id", "actor", "action", "reason"])
        for e in self.ctx.service.store.audit_log(request.query_params.get("id") or None):
            stamp = dt.datetime.fromtimestamp(e.at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            writer.writerow(
                [stamp, *(_csv_safe(v) for v in (e.message_id, e.actor, e.action, e.reason))]
            )
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="mailguard-audit.csv"'},
        )

    # --- reports and incidents (admin) ----------------------------------------------

    async def reports(self, request: Request) -> Response:
        days = _int(request.query_params.get("days"), 7)
        days = days if days in (1, 7, 30, 90) else 7
        summary = Summary()
        if self.ctx.ledger is not None:
            for entry in self.ctx.ledger.since(time.time() - days * 86400):
                summary.add(from_ledger(entry))
        return self.render(
            request, "reports.html", days=days, messages=summary.messages,
            charts=report_html.body(summary),
        )  # fmt: skip

    async def incidents(self, request: Request) -> Response:
        incidents = self.ctx.incidents
        if incidents is None:
            return self.error(request, 404, "Incidents are not available here.")
        wanted = request.path_params.get("id")
        if wanted:
            try:
                pack = incidents.pack(wanted)
            except IncidentError as exc:
                return self.error(request, 404, str(exc))
            done = "Incident opened." if request.query_params.get("done") else ""
            return self.render(request, "incidents.html", pack=pack, done=done)
        packs = [incidents.pack(i.id) for i in incidents.store.all()]
        return self.render(request, "incidents.html", pack=None, packs=packs)

    async def open_incident(self, request: Request) -> Response:
        incidents = self.ctx.incidents
        if incidents is None:
            return self.error(request, 404, "Incidents are not available here.")
        session: Session = request.state.session
        try:
            opened = incidents.open(held=request.path_params["id"], by=session.user.name)
        except IncidentError as exc:
            return self.error(request, 404, str(exc))
        return RedirectResponse(f"/incidents/{opened.id}?done=1", 303)

    async def incident_action(self, request: Request) -> Response:
        """Send the deletion requests, or record one confirmed by phone."""
        incidents = self.ctx.incidents
        upstream = self.ctx.service.upstream
        if incidents is None:
            return self.error(request, 404, "Incidents are not available here.")
        session: Session = request.state.session
        form = await request.form()
        wanted = request.path_params["id"]
        try:
            if request.path_params["action"] == "request-deletion":
                if upstream is None:
                    raise IncidentError("no upstream to send through")
                sent = await incidents.request_deletion(wanted, upstream, session.user.name)
                done = f"Deletion requested from {len(sent)} recipient(s)."
            elif request.path_params["action"] == "confirmed":
                recipient = str(form.get("recipient", "")).strip().lower()
                note = str(form.get("note", "")).strip()
                if not note or not incidents.confirm_by_phone(
                    wanted, recipient, session.user.name, note
                ):
                    raise IncidentError(f"no open deletion request to {recipient}, or no note")
                done = f"Recorded: {recipient} deleted it."
            else:
                return self.error(request, 404, "Not found.")
            pack = incidents.pack(wanted)
        except IncidentError as exc:
            pack = _pack_or_none(incidents, wanted)
            return self.render(request, "incidents.html", 400, pack=pack, error=str(exc))
        return self.render(request, "incidents.html", pack=pack, done=done)

    # --- users (admin) ---------------------------------------------------------------

    async def users(self, request: Request) -> Response:
        error = ""
        status = 200
        if request.method == "POST":
            form: FormData = request.state.form
            name = str(form.get("name", "")).strip()
            by = request.state.session.user.name
            try:
                match form.get("do"):
                    case "add":
                        role = Role(str(form.get("role", "")))
                        self.ctx.users.add(name, role, str(form.get("password", "")), by=by)
                    case "role":
                        self.ctx.users.set_role(name, Role(str(form.get("role", ""))), by=by)
                    case "disable":
                        self.ctx.users.set_disabled(name, True, by=by)
                    case "enable":
                        self.ctx.users.set_disabled(name, False, by=by)
                    case _:
                        raise AccountError("unknown request")
            except (AccountError, ValueError) as exc:
                error, status = str(exc), 400
            else:
                return RedirectResponse("/users?done=user", 303)
        return self.render(
            request,
            "users.html",
            status,
            users=self.ctx.users.list(),
            changes=self.ctx.users.changes(100),
            roles=[r.value for r in STAFF_ROLES],
            error=error,
            done=DONE.get(request.query_params.get("done", ""), ""),
        )

    # --- the sender's link -----------------------------------------------------------

    def _link(self, request: Request) -> tuple[HeldMessage, Actor] | None:
        try:
            message_id, sender = self.ctx.links.read(
                request.path_params["token"], max_age=self.ctx.link_days() * 86400
            )
        except BadLink:
            return None
        held = self.ctx.service.store.get(message_id)
        if held is None or held.mail_from.lower() != sender:
            return None
        return held, Actor(sender, Role.SENDER)

    async def deletion_page(self, request: Request) -> Response:
        """An unintended recipient, from the link in a deletion request."""
        self.anon_csrf(request)
        return self._deletion(request, confirmed=False)

    async def deletion_confirm(self, request: Request) -> Response:
        form = await self.anon_form(request)
        self.anon_csrf(request)
        if form is None:
            return self.error(request, 403, "The form was stale. Open the link again.")
        incidents = self.ctx.incidents
        if incidents is None:
            return self.error(request, 404, "Not found.")
        client = request.client.host if request.client else "?"
        try:
            incidents.confirm(request.path_params["token"], f"link, from {client}")
        except IncidentError as exc:
            return self.error(request, 403, str(exc))
        return self._deletion(request, confirmed=True)

    def _deletion(self, request: Request, *, confirmed: bool) -> Response:
        incidents = self.ctx.incidents
        if incidents is None:
            return self.error(request, 404, "Not found.")
        try:
            incident, recipient = incidents.read_link(request.path_params["token"])
        except IncidentError as exc:
            return self.error(request, 403, str(exc))
        return self.render(
            request, "deletion.html", token=request.path_params["token"], confirmed=confirmed,
            reference=incident.id, sender=incident.sender, recipient=recipient,
        )  # fmt: skip

    async def sender_page(self, request: Request, error: str = "", status: int = 200) -> Response:
        self.anon_csrf(request)
        found = self._link(request)
        if found is None:
            return self.error(request, 403, "This link is not valid or has expired.")
        held, _ = found
        return self.render(
            request,
            "sender.html",
            status,
            held=held,
            token=request.path_params["token"],
            may_release=held.release == "sender",
            done=DONE.get(request.query_params.get("done", ""), ""),
            error=error,
        )

    async def sender_action(self, request: Request) -> Response:
        form = await self.anon_form(request)
        if form is None:
            self.anon_csrf(request)
            return self.error(request, 403, "The form was stale or forged. Try again.")
        found = self._link(request)
        if found is None:
            self.anon_csrf(request)
            return self.error(request, 403, "This link is not valid or has expired.")
        held, actor = found
        action = request.path_params["action"]
        text = str(form.get("justification", "")).strip()
        service = self.ctx.service
        try:
            if action == "cancel":
                service.reject(held.id, actor, "cancelled by the sender")
                done = "cancelled"
            elif action == "review":
                service.ask_review(held.id, actor, text)
                done = "review"
            elif action == "release":
                if len(text) < 10:
                    raise QuarantineError("say in a sentence why this email is safe to send")
                await service.release(held.id, actor, f"sender's justification: {text}")
                done = "released"
            else:
                return self.error(request, 404, "No such action.")
        except QuarantineError as exc:
            return await self.sender_page(request, str(exc), 400)
        token = request.path_params["token"]
        return RedirectResponse(f"/s/{token}?done={done}", 303)

    async def metrics(self, request: Request) -> Response:
        """For Prometheus, from the networks in ``metrics_allow`` only; no login."""
        client = request.client.host if request.client else ""
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            address = None
        if address is None or not any(address in net for net in self.ctx.metrics_allow):
            return PlainTextResponse("forbidden", 403)
        if self.ctx.metrics is None:
            return PlainTextResponse("no metrics in this process", 404)
        return Response(self.ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def healthz(self, request: Request) -> Response:
        ok, why = self.ctx.ready() if self.ctx.ready else (True, "ok")
        return PlainTextResponse(why, 200 if ok else 503)


def _secure(app: ASGIApp) -> ASGIApp:
    """Security headers on every response; a route may set its own CSP."""

    async def secured(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                present = {k.lower() for k, _ in headers}
                for name, value in (
                    (b"content-security-policy", PAGE_CSP.encode()),
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ):
                    if name not in present:
                        headers.append((name, value))
            await send(message)

        await app(scope, receive, send_with_headers)

    return secured


def _pack_or_none(incidents: Incidents, wanted: str) -> dict[str, object] | None:
    try:
        return incidents.pack(wanted)
    except IncidentError:
        return None


def _safe_next(values: Any) -> str:
    """Only a local path: never an open redirect to somebody else's site."""
    nxt = str(values.get("next", "") or "/held")
    # Browsers drop tabs and newlines from URLs ("/\t/evil.example" is "//evil.example")
    # and read "\" as "/": any of them, or a space, and it is not a path of ours.
    if any(c <= " " or c in "\\\x7f" for c in nxt) or "%5c" in nxt.lower():
        return "/held"
    return nxt if nxt.startswith("/") and not nxt.startswith("//") else "/held"


def _state(name: str) -> State | None:
    try:
        return State(name)
    except ValueError:
        return State.HELD


def _int(value: str | None, default: int) -> int:
    try:
        return min(int(value or default), 1_000_000)
    except ValueError:
        return default


def _date(value: str | None, tz: ZoneInfo, end: bool = False) -> float | None:
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    try:
        if end:
            day += dt.timedelta(days=1)
        return dt.datetime.combine(day, dt.time(), tz).timestamp()
    except (OverflowError, ValueError):
        return None


def _when(stamp: float, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(stamp, tz).strftime("%d %b %Y %H:%M")


def _age(stamp: float) -> str:
    """How long ago (positive) or how long until (a future stamp), roughly."""
    seconds = abs(time.time() - stamp)
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def _csv_safe(text: str) -> str:
    """A spreadsheet must not run a reason typed as ``=HYPERLINK(...)``."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
