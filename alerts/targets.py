"""Where a webhook may be sent: the URL parsed as strictly as the S3 Endpoint URL (its origin
by connectors.endpoints), its host resolved, and every address checked against the SSRF
rules: no loopback, link-local, private, multicast, reserved or otherwise non-public address
unless the origin is in LOADBAY_WEBHOOK_ALLOWED_ENDPOINTS. Checked when the URL is saved and
again before each delivery, which connects to the address checked (DNS may change between)."""

import ipaddress
import re
import socket
from dataclasses import dataclass

from django.conf import settings

from connectors.endpoints import InvalidEndpoint, endpoint_origin

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# What may follow the origin: a path and a query of URL characters (RFC 3986), no fragment.
_PATH_RE = re.compile(
    r"^(?:/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*)?(?:\?[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*)?$"
)
_REFUSED_KINDS = (
    ("is_unspecified", "an unspecified"),
    ("is_loopback", "a loopback"),
    ("is_link_local", "a link-local"),
    ("is_private", "a private"),
    ("is_multicast", "a multicast"),
    ("is_reserved", "a reserved"),
)


class WebhookRefused(ValueError):
    """The URL may not be used; str() says why, for the person who typed it."""


class HostNotResolved(WebhookRefused):
    """The host name does not resolve (now): at send time, worth another try."""


@dataclass(frozen=True)
class Target:
    """A checked webhook URL: where to connect (address, port), and what to ask for."""

    url: str
    scheme: str
    host: str  # as in the URL: the Host header and the TLS server name
    port: int
    path: str  # path and query, at least "/"
    address: str  # the checked address to connect to


def split_url(url: str) -> tuple[str, str]:
    """(normalised origin, path and query) of a webhook URL, or WebhookRefused saying why."""
    url = url.strip()
    scheme, separator, rest = url.partition("://")
    cut = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i != -1), default=-1)
    authority, tail = (rest, "") if cut == -1 else (rest[:cut], rest[cut:])
    try:
        origin = endpoint_origin(f"{scheme}{separator}{authority}")
    except InvalidEndpoint as exc:
        raise WebhookRefused(str(exc).replace("S3 Endpoint URL", "webhook URL")) from None
    if any(char.isspace() or not char.isprintable() for char in tail):
        raise WebhookRefused(
            "The webhook URL contains a control character or whitespace; remove it or "
            "percent-encode it."
        )
    if "#" in tail:
        raise WebhookRefused("A fragment (#…) is not allowed in a webhook URL.")
    if not _PATH_RE.match(tail):
        raise WebhookRefused(
            "The webhook URL's path or query holds a character URLs may not contain "
            "(space, quote, <, >, …); percent-encode it."
        )
    return origin, (tail if tail.startswith("/") else "/" + tail) or "/"


def check(url: str) -> Target:
    """The target to connect to for `url`; WebhookRefused if the SSRF rules forbid it."""
    origin, path = split_url(url)
    scheme, _, host_port = origin.partition("://")
    host, _, port_text = host_port.rpartition(":")
    port = int(port_text)
    bare = host.strip("[]")
    addresses = _addresses(bare, port)
    if origin not in settings.LOADBAY_WEBHOOK_ALLOWED_ENDPOINTS:
        for address in addresses:
            why = refusal(address)
            if why is not None:
                shown = host if str(address) == bare else f"{host} (which resolves to {address})"
                raise WebhookRefused(
                    f"The webhook URL's host {shown} is {why} address; webhooks go only to "
                    "public addresses (an administrator may allow this one in "
                    "LOADBAY_WEBHOOK_ALLOWED_ENDPOINTS)."
                )
    return Target(url.strip(), scheme, host, port, path, str(addresses[0]))


def refusal(address: IPAddress) -> str | None:
    """Why the address is not public (e.g. "a loopback"), or None if it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for attribute, kind in _REFUSED_KINDS:
        if getattr(address, attribute):
            return kind
    return None if address.is_global else "a non-public"


def resolve(host: str, port: int) -> list[str]:
    """Every address the host name resolves to (tests replace this)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = resolve(host, port)
    except (OSError, UnicodeError):
        found = []
    addresses = []
    for text in found:
        try:
            addresses.append(ipaddress.ip_address(text.split("%", 1)[0]))
        except ValueError:
            continue
    if not addresses:
        raise HostNotResolved(f"The webhook URL's host {host} could not be resolved (DNS).")
    return addresses
