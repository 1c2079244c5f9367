"""Where a webhook may go: refuse loopback, private, link-local and reserved addresses (SSRF).

A URL is checked when it is registered and again at every delivery, on every address its
host resolves to (a name that resolved to a public address yesterday may point inside the
network today); the POST then connects to the very address that was checked, so the name
cannot be re-resolved elsewhere in between.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class AddressRefused(Exception):
    """The URL is not one a webhook may be sent to; the message says why (no secrets in it)."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # a scoped IPv6 address carries "%eth0"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local
                                 or ip.is_private or ip.is_unspecified)


def url_problem(url: str, *, allow_http: bool) -> str | None:
    """What is wrong with the URL's form (scheme, host, credentials), or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        return "Enter a valid URL."
    schemes = {"https", "http"} if allow_http else {"https"}
    if parts.scheme not in schemes:
        return "Only https:// URLs are allowed."
    if not parts.hostname:
        return "Enter a valid URL."
    if parts.username or parts.password:
        return "Put no user name or password in the URL; the signature authenticates each delivery."
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal is its own), in the resolver's order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as error:  # ValueError: a NUL in the name
        raise AddressRefused(f"The host {host} does not resolve.") from error
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise AddressRefused(f"The host {host} does not resolve.")
    return addresses


def checked_addresses(url: str, *, allow_http: bool, allow_private: bool) -> list[str]:
    """The addresses a POST to ``url`` may connect to; raises AddressRefused if the URL or any address is refused."""
    problem = url_problem(url, allow_http=allow_http)
    if problem:
        raise AddressRefused(problem)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(parts.hostname, port)
    if not allow_private:
        refused = [address for address in addresses if not is_public(address)]
        if refused:
            raise AddressRefused(f"{parts.hostname} resolves to a loopback, private, link-local or reserved address "
                                 f"({', '.join(refused)}); webhooks go to public addresses only.")
    return addresses
