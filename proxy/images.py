"""Fetch remote image URLs, where the operator allows it, so they reach the CLI inline.

Off by default (CLAUDE_IMAGE_FETCH), and the translation refuses remote URLs. When on, only
http(s) URLs whose host resolves to public addresses are fetched, from the address that was
checked (no second lookup to rebind), with no redirects followed, within a size limit and a timeout.
"""
from __future__ import annotations

import base64
import http.client
import ipaddress
import socket
import ssl
import urllib.parse

from .errors import InvalidRequest

MEDIA_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def resolve(ask, settings):
    """Fetch the http(s) images of a conversation.Ask (noted only when the operator allows fetching)
    and make them inline base64 images."""
    for block, param in ask.remote_images:
        media_type, data = fetch(block["source"]["url"], settings.image_max_bytes, settings.image_timeout, param)
        block["source"] = {"type": "base64", "media_type": media_type, "data": data}
    ask.remote_images = []
    return ask


def fetch(url, max_bytes, timeout, param):
    """Return (media type, base64 data) of the image at a public http(s) URL."""
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    address = public_address(host, port, param)
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
        if parts.scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        connection.sock = sock
        connection.request("GET", urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, "")),
                           headers={"Accept": ", ".join(MEDIA_TYPES)})
        response = connection.getresponse()
        data = response.read(max_bytes + 1)
        connection.close()
    except (OSError, http.client.HTTPException) as exc:
        raise InvalidRequest(f"The image at {host} could not be fetched: {exc}.", param=param) from None
    media_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
    if response.status != 200:
        raise InvalidRequest(f"The image at {host} answered HTTP {response.status} (redirects are not followed).",
                             param=param)
    if media_type not in MEDIA_TYPES:
        raise InvalidRequest(f"The URL at {host} is not a PNG, JPEG, GIF or WebP image ({media_type or 'no type'}).",
                             param=param)
    if len(data) > max_bytes:
        raise InvalidRequest(f"The image at {host} is larger than {max_bytes} bytes (CLAUDE_IMAGE_MAX_BYTES).",
                             param=param)
    return media_type, base64.b64encode(data).decode()


def public_address(host, port, param):
    """Return an address of host to connect to, refusing hosts that resolve to non-public ones."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise InvalidRequest(f"The image host {host!r} cannot be resolved.", param=param) from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not addresses or not all(allowed(a) for a in addresses):
        raise InvalidRequest(f"The image host {host!r} is a private, loopback or otherwise non-public address; "
                             "it is not fetched.", param=param)
    return str(addresses[0])


def allowed(address):
    """True for a public address: never loopback, private, link-local (cloud metadata) or reserved."""
    return address.is_global
