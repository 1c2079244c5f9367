"""One POST to an endpoint: a timeout, no redirects, connected to the address that was checked."""

from __future__ import annotations

import http.client
import socket
import ssl
from urllib.parse import urlsplit


def post(url: str, *, address: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST ``body`` to ``url`` through ``address`` (already checked); returns the status code.

    http.client follows no redirects: a 3xx is an answer like any other (not a success).
    TLS is verified against the URL's host name, whatever address is connected to.
    """
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.hostname, port, timeout=timeout,
                                                 context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(parts.hostname, port, timeout=timeout)

    def connect_to_checked_address(_address, timeout=None, source_address=None):
        return socket.create_connection((address, port), timeout, source_address)

    connection._create_connection = connect_to_checked_address
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # what the receiver says is not kept; read a little so it sees a clean close
        return response.status
    finally:
        connection.close()
