"""Loopback OpenID Connect provider for demo sign-in and tests (mounted at /oidc on the emulator server).

`login_hint=EMAIL` on the authorize URL approves that email at once. Per-login switches on the same URL make the
next ID token misbehave so every refusal of the real callback can be tested over HTTP:
`email_verified=false`, `hd=<domain>` (or `hd=` to omit it), `bad_nonce=1`, `replayable=1` (code redeemable twice),
and `id_token=<attack>` for a hostile ID token (one of `HOSTILE_TOKENS`: unsigned, signed with the wrong key or with
the public key as an HMAC secret, expired, issued in the future, wrong issuer or audience, audience lists with and
without `azp`, a claim changed after signing).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey
from litestar import Request, Response, Router, get, post
from litestar.exceptions import HTTPException
from litestar.response import Redirect
from markupsafe import escape

DEMO_CLIENT_ID = "abacus"
DEMO_CLIENT_SECRET = "dev"
OTHER_CLIENT_ID = "someone-else"
# Switch value → what the minted ID token does wrong (`aud_list_azp` is the one a relying party must accept).
HOSTILE_TOKENS = {
    "alg_none": "unsigned (alg none)",
    "hs256_public_key": "HS256 with the provider's public key as the HMAC secret",
    "wrong_key": "RS256 by another key under the provider's kid",
    "unknown_kid": "RS256 by another key with a kid the JWKS does not list",
    "expired": "expired an hour ago",
    "future_iat": "issued an hour in the future",
    "future_nbf": "not valid before an hour from now",
    "no_exp": "no exp claim",
    "no_iat": "no iat claim",
    "wrong_iss": "another issuer",
    "wrong_aud": "another audience",
    "aud_list_no_azp": "audience list with another client and no azp",
    "aud_list_wrong_azp": "audience list with azp naming another client",
    "aud_list_azp": "audience list with azp naming this client",
    "tampered": "email changed after signing",
}


@dataclass
class _Grant:
    claims: dict[str, Any]
    client_id: str
    redirect_uri: str
    code_challenge: str | None
    replayable: bool
    uses: int = 0
    attack: str = ""


@dataclass
class OIDCState:
    client_id: str = DEMO_CLIENT_ID
    client_secret: str = DEMO_CLIENT_SECRET
    demo_users: list[tuple[str, str]] = field(default_factory=list)
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": secrets.token_hex(8)}))
    codes: dict[str, _Grant] = field(default_factory=dict)
    access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)


def _issuer(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/oidc"


def _name_for(email: str, users: list[tuple[str, str]]) -> str:
    for known, name in users:
        if known == email:
            return name
    return email.split("@")[0].replace(".", " ").title()


def create_oidc_router(state: OIDCState | None = None) -> Router:
    state = state or OIDCState()

    @get("/.well-known/openid-configuration", sync_to_thread=False)
    def discovery(request: Request) -> dict[str, Any]:
        issuer = _issuer(request)
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "jwks_uri": f"{issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }

    @get("/jwks", sync_to_thread=False)
    def jwks() -> dict[str, Any]:
        return {"keys": [state.key.as_dict(private=False, use="sig", alg="RS256")]}

    @get("/authorize", sync_to_thread=False)
    def authorize(request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != state.client_id:
            raise HTTPException(status_code=400, detail="unknown client_id")
        redirect_uri = q.get("redirect_uri") or ""
        if not redirect_uri.startswith(("http://127.0.0.1", "http://localhost", "https://")):
            raise HTTPException(status_code=400, detail="redirect_uri not allowed")
        if q.get("response_type") != "code":
            raise HTTPException(status_code=400, detail="only response_type=code is supported")
        email = (q.get("login_hint") or "").strip().lower()
        if not email:
            return _chooser_page(request, state)
        domain = email.rsplit("@", 1)[-1]
        claims: dict[str, Any] = {
            "sub": hashlib.sha256(email.encode()).hexdigest()[:24],
            "email": email,
            "email_verified": q.get("email_verified", "true").lower() != "false",
            "name": _name_for(email, state.demo_users),
            "nonce": q.get("nonce"),
        }
        hd = q.get("hd", domain)
        if hd:
            claims["hd"] = hd
        if q.get("bad_nonce"):
            claims["nonce"] = "not-the-nonce-you-sent"
        attack = q.get("id_token") or ""
        if attack and attack not in HOSTILE_TOKENS:
            raise HTTPException(status_code=400, detail=f"unknown id_token switch; one of {', '.join(HOSTILE_TOKENS)}")
        code = secrets.token_urlsafe(24)
        state.codes[code] = _Grant(
            claims,
            state.client_id,
            redirect_uri,
            q.get("code_challenge"),
            replayable=bool(q.get("replayable")),
            attack=attack,
        )
        params = {"code": code}
        if (client_state := q.get("state")) is not None:
            params["state"] = client_state
        return Redirect(f"{redirect_uri}?{urlencode(params)}", status_code=302)

    @post("/token", status_code=200)
    async def token(request: Request) -> Response:
        form = await request.form()
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != state.client_id or client_secret != state.client_secret:
            return Response({"error": "invalid_client"}, status_code=401)
        grant = state.codes.get(str(form.get("code")))
        if grant is None or (grant.uses and not grant.replayable):
            return Response(
                {"error": "invalid_grant", "error_description": "code unknown or already used"}, status_code=400
            )
        if form.get("redirect_uri") != grant.redirect_uri:
            return Response({"error": "invalid_grant", "error_description": "redirect_uri mismatch"}, status_code=400)
        if grant.code_challenge:
            verifier = str(form.get("code_verifier") or "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if digest != grant.code_challenge:
                return Response(
                    {"error": "invalid_grant", "error_description": "PKCE verification failed"}, status_code=400
                )
        grant.uses += 1
        now = int(time.time())
        claims = {**grant.claims, "iss": _issuer(request), "aud": grant.client_id, "iat": now, "exp": now + 600}
        id_token = _mint_id_token(state, claims, grant.attack)
        access_token = secrets.token_urlsafe(24)
        state.access_tokens[access_token] = claims
        return Response(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 600,
                "id_token": id_token,
                "scope": "openid email profile",
            }
        )

    @get("/userinfo", sync_to_thread=False)
    def userinfo(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        claims = state.access_tokens.get(auth.removeprefix("Bearer ").strip())
        if claims is None:
            return Response({"error": "invalid_token"}, status_code=401)
        keys = ("sub", "email", "email_verified", "name", "hd")
        return Response({k: claims[k] for k in keys if k in claims})

    return Router(path="/oidc", route_handlers=[discovery, jwks, authorize, token, userinfo])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _compact(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _mint_id_token(state: OIDCState, claims: dict[str, Any], attack: str) -> str:
    """The ID token of one grant: RS256 by the provider's key, or the hostile variant `attack` names."""
    now = int(claims["iat"])
    header = {"alg": "RS256", "kid": state.key.kid}
    key = state.key
    if attack == "expired":
        claims.update(iat=now - 7200, exp=now - 3600)
    elif attack == "future_iat":
        claims.update(iat=now + 3600, exp=now + 7200)
    elif attack == "future_nbf":
        claims["nbf"] = now + 3600
    elif attack in ("no_exp", "no_iat"):
        claims.pop(attack.removeprefix("no_"))
    elif attack == "wrong_iss":
        claims["iss"] = "https://issuer.evil.example/oidc"
    elif attack == "wrong_aud":
        claims["aud"] = OTHER_CLIENT_ID
    elif attack.startswith("aud_list"):
        claims["aud"] = [claims["aud"], OTHER_CLIENT_ID]
        if attack == "aud_list_wrong_azp":
            claims["azp"] = OTHER_CLIENT_ID
        elif attack == "aud_list_azp":
            claims["azp"] = state.client_id
    elif attack in ("wrong_key", "unknown_kid"):
        kid = str(state.key.kid) if attack == "wrong_key" else "unknown"
        key = RSAKey.generate_key(2048, {"kid": kid})
        header["kid"] = key.kid
    if attack == "alg_none":
        return _compact({"alg": "none", "typ": "JWT"}, claims) + "."
    if attack == "hs256_public_key":
        signing_input = _compact({"alg": "HS256", "kid": state.key.kid}, claims)
        secret = state.key.as_pem(private=False)
        return f"{signing_input}.{_b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"
    token = jwt.encode(header, claims, key)
    if attack == "tampered":
        head, _, rest = token.partition(".")
        signature = rest.rpartition(".")[2]
        return f"{head}.{_b64(json.dumps({**claims, 'email': 'mallory@example.com'}).encode())}.{signature}"
    return token


def _chooser_page(request: Request, state: OIDCState) -> Response:
    base = {k: v for k, v in request.query_params.items() if k != "login_hint"}
    links = "".join(
        f'<li><a href="?{escape(urlencode({**base, "login_hint": email}))}">{escape(name)}'
        f" <span>{escape(email)}</span></a></li>"
        for email, name in state.demo_users[:12]
    )
    hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in base.items())
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Demo identity provider</title>
<style>body{{font-family:system-ui,sans-serif;background:#0b0d12;color:#e6e8ee;display:grid;place-items:center;
min-height:100vh;margin:0}}
main{{background:#151922;border:1px solid #262c3a;border-radius:10px;padding:28px;width:380px}}
h1{{font-size:18px;margin:0 0 4px}}p{{color:#8b93a7;font-size:13px}}ul{{list-style:none;padding:0}}
li a{{display:block;padding:8px 10px;border-radius:6px;color:#e6e8ee;text-decoration:none}}
li a:hover{{background:#1f2533}}li span{{color:#8b93a7;font-size:12px;margin-left:6px}}
input[type=email]{{width:100%;box-sizing:border-box;padding:8px;border-radius:6px;border:1px solid #262c3a;
background:#0b0d12;color:#e6e8ee}}button{{margin-top:8px;width:100%;padding:8px;border:0;border-radius:6px;
background:#f59e0b;color:#111;font-weight:600;cursor:pointer}}</style></head><body><main>
<h1>Demo identity provider</h1><p>Abacus emulator — choose a demo user or type any email.</p>
<ul>{links}</ul>
<form method="get" action="">{hidden}<label for="login_hint">Email</label>
<input id="login_hint" type="email" name="login_hint" placeholder="name@example.com" required>
<button type="submit">Sign in</button></form></main></body></html>"""
    return Response(html, media_type="text/html")
