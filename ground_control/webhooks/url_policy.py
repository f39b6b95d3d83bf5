"""Which webhook URLs ground control will call (SSRF guard). A subscription may point only at
http(s) on a public address unless ``webhooks_allow_private`` is set: loopback, private,
link-local (cloud metadata at 169.254.169.254), multicast, reserved and unspecified addresses
are refused, both as written and as the name resolves. The check runs at creation and again
before each delivery (a name that later resolves inward is refused then)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class UrlRefused(ValueError):
    """The URL is not one ground control will call; the message says why."""


def _inward(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified)


def check_syntax(url: str, allow_private: bool) -> str:
    """Pure part: scheme, host present, no credentials, literal internal addresses and names.
    Returns the host to resolve."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("only http and https URLs are allowed")
    host = (parts.hostname or "").rstrip(".")   # "localhost." is localhost
    if not host:
        raise UrlRefused("the URL has no host")
    if parts.username or parts.password:
        raise UrlRefused("credentials in the URL are not allowed; authenticate with the signature")
    if port == 0:
        raise UrlRefused("port 0 is not allowed")
    if allow_private:
        return host
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise UrlRefused(f"{host} is an internal name (set FLEET_WEBHOOKS_ALLOW_PRIVATE to allow)")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if _inward(ip):
        raise UrlRefused(f"{host} is an internal address (set FLEET_WEBHOOKS_ALLOW_PRIVATE to allow)")
    return host


async def check(url: str, allow_private: bool, resolve: bool = True) -> None:
    """Refuse the URL (UrlRefused) if it is internal as written or as its name resolves now.
    A name that does not resolve is allowed (deliveries fail and retry until it does)."""
    host = check_syntax(url, allow_private)
    if allow_private or not resolve:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return
    for info in infos:
        addr = info[4][0]
        if _inward(ipaddress.ip_address(addr.split("%", 1)[0])):
            raise UrlRefused(f"{host} resolves to the internal address {addr}")
