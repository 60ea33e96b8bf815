"""OpenID Connect relying party: authorization URL (code + PKCE + state + nonce) and ID-token verification.

Discovery and JWKS documents are cached per issuer; the JWKS is re-fetched once when a token names an unknown key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from abacus.settings import Settings

CACHE_SECONDS = 3600
GOOGLE_ISSUER = "https://accounts.google.com"


class SignInError(Exception):
    """Sign-in refused. `status` is the HTTP status of the page shown, `reason` the sentence the user reads."""

    def __init__(self, reason: str, *, status: int = 403, log_detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.log_detail = log_detail or reason


@dataclass(frozen=True)
class LoginRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class VerifiedUser:
    email: str
    name: str | None


class OIDCClient:
    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._http = http or httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=30.0))
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._jwks: tuple[float, KeySet] | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def metadata(self) -> dict[str, Any]:
        if self._metadata and time.monotonic() - self._metadata[0] < CACHE_SECONDS:
            return self._metadata[1]
        url = f"{self.settings.sign_in.issuer}/.well-known/openid-configuration"
        try:
            response = await self._http.get(url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SignInError(
                "Authentication failed. Please try again.",
                status=502,
                log_detail=f"OIDC discovery at {url} failed: {exc}",
            ) from exc
        self._metadata = (time.monotonic(), document)
        return document

    async def _keyset(self, *, refresh: bool = False) -> KeySet:
        if not refresh and self._jwks and time.monotonic() - self._jwks[0] < CACHE_SECONDS:
            return self._jwks[1]
        meta = await self.metadata()
        response = await self._http.get(meta["jwks_uri"])
        response.raise_for_status()
        keyset = KeySet.import_key_set(response.json())
        self._jwks = (time.monotonic(), keyset)
        return keyset

    async def login_request(self, login_hint: str | None = None) -> LoginRequest:
        meta = await self.metadata()
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        params = {
            "response_type": "code",
            "client_id": self.settings.sign_in.client_id,
            "redirect_uri": self.settings.oidc_redirect_uri,
            "scope": "openid email profile",
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        if self.settings.sign_in.issuer_is_google and len(self.settings.sign_in.allowed_domains) == 1:
            params["hd"] = self.settings.sign_in.allowed_domains[0]
        if login_hint:
            params["login_hint"] = login_hint
        return LoginRequest(f"{meta['authorization_endpoint']}?{urlencode(params)}", state, nonce, verifier)

    async def exchange_code(self, code: str, code_verifier: str) -> str:
        """Redeem the authorization code; return the raw ID token."""
        meta = await self.metadata()
        try:
            response = await self._http.post(
                meta["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.settings.oidc_redirect_uri,
                    "code_verifier": code_verifier,
                },
                auth=(self.settings.sign_in.client_id or "", self.settings.sign_in.client_secret or ""),
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise SignInError(
                "Authentication failed. Please try again.", status=502, log_detail=f"token endpoint unreachable: {exc}"
            ) from exc
        if response.status_code != 200:
            raise SignInError(
                "Authentication failed. Please try again.",
                status=400,
                log_detail=f"token endpoint answered {response.status_code}: {response.text[:200]}",
            )
        id_token = response.json().get("id_token")
        if not id_token:
            raise SignInError(
                "Authentication failed. Please try again.", status=400, log_detail="token response carried no id_token"
            )
        return id_token

    async def verify_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        """Check signature (JWKS), iss, aud, exp, iat and nonce; return the claims."""
        client_id = self.settings.sign_in.client_id
        if not client_id:  # joserfc skips the aud check when its value is None: never accept any audience
            raise SignInError(
                "Authentication failed. Please try again.", status=500, log_detail="no OIDC client id configured"
            )
        try:
            try:
                token = jwt.decode(id_token, await self._keyset(), algorithms=["RS256"])
            except (JoseError, ValueError):
                token = jwt.decode(id_token, await self._keyset(refresh=True), algorithms=["RS256"])
            registry = jwt.JWTClaimsRegistry(
                leeway=60,
                iss={"essential": True, "value": self.settings.sign_in.issuer},
                aud={"essential": True, "value": client_id},
                exp={"essential": True},
                iat={"essential": True},
                nonce={"essential": True, "value": nonce},
            )
            registry.validate(token.claims)
            _check_authorized_party(token.claims, client_id)
        except (JoseError, ValueError) as exc:
            raise SignInError(
                "Authentication failed. Please try again.", status=400, log_detail=f"ID token rejected: {exc}"
            ) from exc
        return dict(token.claims)

    def authorize_user(self, claims: dict[str, Any]) -> VerifiedUser:
        """Apply the email / email_verified / domain / hd rules of docs/security.md §1."""
        return authorize_claims(claims, self.settings)


def _check_authorized_party(claims: dict[str, Any], client_id: str) -> None:
    """OIDC Core 3.1.3.7: a token for several audiences must name this client as `azp`; an `azp` present must be
    this client. (A token minted for another client that merely lists this one is not ours.)"""
    audiences = claims.get("aud")
    count = len(audiences) if isinstance(audiences, list) else 1
    azp = claims.get("azp")
    if count > 1 and azp is None:
        raise ValueError(f"aud lists {count} clients and there is no azp claim")
    if azp is not None and azp != client_id:
        raise ValueError(f"azp {azp!r} is not this client")


def authorize_claims(claims: dict[str, Any], settings: Settings) -> VerifiedUser:
    email = str(claims.get("email") or "").strip().lower()
    if not email or email.count("@") != 1:
        raise SignInError("Access denied. Your account has no email address.", log_detail="no email claim")
    if claims.get("email_verified") is not True:
        raise SignInError(
            "Access denied. Your email address is not verified.", log_detail=f"email_verified false for {email}"
        )
    domain = email.rsplit("@", 1)[1]
    allowed = settings.sign_in.allowed_domains
    if allowed and domain not in allowed:
        raise SignInError(
            "Access denied. Your account is not authorized.", log_detail=f"domain {domain} not in allow-list"
        )
    hd = claims.get("hd")
    if hd is not None and str(hd).lower() != domain:
        raise SignInError(
            "Access denied. Your account is not authorized.",
            log_detail=f"hd claim {hd!r} does not match email domain {domain}",
        )
    if settings.sign_in.issuer_is_google and allowed and hd is None:
        raise SignInError(
            "Access denied. Your account is not authorized.",
            log_detail="Google account without hosted domain (hd) claim",
        )
    return VerifiedUser(email=email, name=claims.get("name"))


def safe_next(value: str | None) -> str:
    """A relative path on this site, or `/` (no scheme, no `//host`, no backslash, no control chars)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(ch) < 32 for ch in value) or ":" in value.split("?", 1)[0]:
        return "/"
    return value
