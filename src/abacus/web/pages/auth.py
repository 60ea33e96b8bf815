"""Sign-in pages and the OIDC round trip (public routes), plus sign-out."""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.params import Parameter
from litestar.response import Redirect, Template

from abacus.auth.guards import session_user
from abacus.auth.oidc import OIDCClient, SignInError, safe_next
from abacus.auth.sessions import rotate_session_id
from abacus.logging_setup import get_logger
from abacus.web.rendering import render

log = get_logger("abacus.auth")
PENDING = "oidc_pending"
ERRORS = {
    "denied": "Access denied. Your account is not authorized.",
    "failed": "Authentication failed. Please try again.",
}


def _issuer_name(issuer: str) -> str:
    return "Google" if "accounts.google.com" in issuer else "your identity provider"


def _end_pending_sign_in(request: Request[Any, Any, Any]) -> None:
    """Forget the sign-in under way (its state and code are used up); anything else in the session stays."""
    session = request.scope.get("session")
    rest = {k: v for k, v in session.items() if k != PENDING} if isinstance(session, dict) else {}
    if rest:
        request.set_session(rest)
    else:
        request.clear_session()


@get("/sign-in", opt={"public": True}, name="sign_in")
async def sign_in_page(request: Request[Any, Any, Any], next: str | None = None, error: str | None = None) -> Template:
    if session_user(request):
        return Redirect(safe_next(next), status_code=303)  # type: ignore[return-value]
    settings = request.app.state.settings
    login_url = "/auth/login?" + urlencode({"next": safe_next(next)})
    return render(
        request,
        "pages/sign_in.html",
        {
            "login_url": login_url,
            "issuer_name": _issuer_name(settings.sign_in.issuer),
            "error": ERRORS.get(error or ""),
            "demo": settings.env in ("demo", "dev"),
        },
    )


@get("/auth/login", opt={"public": True})
async def login(request: Request[Any, Any, Any], next: str | None = None, login_hint: str | None = None) -> Redirect:
    if session_user(request):
        # Already signed in: a link from elsewhere must not replace (and so end) the session.
        return Redirect(safe_next(next), status_code=303)
    oidc: OIDCClient = request.app.state.oidc
    try:
        login_request = await oidc.login_request(login_hint=login_hint)
    except SignInError as exc:
        log.warning("sign-in refused", reason=exc.log_detail)
        return Redirect("/sign-in?error=failed", status_code=303)
    request.set_session(
        {
            PENDING: {
                "state": login_request.state,
                "nonce": login_request.nonce,
                "verifier": login_request.code_verifier,
                "next": safe_next(next),
                "at": time.time(),
            }
        }
    )
    return Redirect(login_request.url, status_code=302)


@get("/auth/callback", opt={"public": True})
async def callback(
    request: Request[Any, Any, Any],
    code: str | None = None,
    oauth_state: Annotated[str | None, Parameter(query="state")] = None,
    error: str | None = None,
) -> Redirect | Template:
    session = request.scope.get("session")
    pending = session.get(PENDING) if isinstance(session, dict) else None
    if not pending or not oauth_state or oauth_state != pending.get("state"):
        # Not the answer to this browser's sign-in: refuse it and leave the session as it is (a signed-in person
        # stays signed in, a sign-in under way can still complete), so a link from another site changes nothing.
        log.warning("sign-in refused", reason="state missing or mismatched", status=400)
        reason = "Sign-in could not be verified (missing or mismatched state). Please start again."
        return render(request, "pages/sign_in_refused.html", {"reason": reason}, status_code=400)
    try:
        if time.time() - float(pending.get("at", 0)) > 600:
            raise SignInError(
                "Sign-in took too long. Please start again.", status=400, log_detail="pending sign-in expired"
            )
        if error or not code:
            raise SignInError(
                "Authentication failed. Please try again.",
                status=400,
                log_detail=f"identity provider returned error={error!r}",
            )
        oidc: OIDCClient = request.app.state.oidc
        id_token = await oidc.exchange_code(code, pending["verifier"])
        claims = await oidc.verify_id_token(id_token, pending["nonce"])
        user = oidc.authorize_user(claims)
    except SignInError as exc:
        log.warning("sign-in refused", reason=exc.log_detail, status=exc.status)
        _end_pending_sign_in(request)
        return render(request, "pages/sign_in_refused.html", {"reason": exc.reason}, status_code=exc.status)
    rotate_session_id(request)
    request.set_session({"user": {"email": user.email, "name": user.name, "signed_in_at": time.time()}})
    log.info("signed in", email=user.email)
    return Redirect(pending.get("next") or "/", status_code=303)


@post("/auth/logout")
async def logout(request: Request[Any, Any, Any]) -> Redirect:
    request.clear_session()
    return Redirect("/sign-in", status_code=303)
