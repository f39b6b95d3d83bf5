"""Short-lived access tokens: HS256 JWTs naming the user. Role and hubs are re-read from the
database on every request, so disabling a user or changing a role takes effect at once; the
token only proves who logged in and until when."""

from __future__ import annotations

from datetime import datetime, timedelta

import jwt

ALGORITHM = "HS256"
ISSUER = "lastmile-fleet"


class InvalidToken(ValueError):
    """Expired, tampered, signed with another secret, or malformed."""


def looks_like_jwt(credential: str) -> bool:
    return credential.count(".") == 2


def issue(secret: str | bytes, user: str, now: datetime, ttl_s: int) -> str:
    claims = {"sub": user, "iss": ISSUER, "iat": int(now.timestamp()),
              "exp": int((now + timedelta(seconds=ttl_s)).timestamp()), "typ": "access"}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def subject(secret: str | bytes, token: str) -> str:
    """The user name the token was issued to; raises InvalidToken."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["sub", "exp", "iat", "iss"]})
    except jwt.ExpiredSignatureError:
        raise InvalidToken("access token expired") from None
    except jwt.PyJWTError:
        raise InvalidToken("invalid access token") from None
    if claims.get("typ") != "access" or not isinstance(claims.get("sub"), str):
        raise InvalidToken("invalid access token")
    return claims["sub"]
