"""S3 endpoint URLs: the one strict parser behind the S3 Endpoint URL field, the check made on
every use of an endpoint, and S3_ALLOWED_ENDPOINTS, so all three compare the same origin.

Plain Python with no Django import: config/settings.py uses it before Django is set up.
"""

import ipaddress
import re
import unicodedata

DEFAULT_PORTS = {"http": 80, "https": 443}
EXAMPLE = "https://minio.example.com:9000"
_HOST_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NUMERIC_LABEL_RE = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")


class InvalidEndpoint(ValueError):
    """str() says what is wrong with the URL, in words for the person who typed it. It never
    quotes a user name or password from the URL."""


def endpoint_origin(url: str) -> str:
    """`scheme://host:port` of an http(s) URL that holds nothing else (a trailing "/" aside),
    normalised: lower-case scheme and host, an IPv4 or IPv6 address in its canonical form (IPv6
    in brackets), a host name without a trailing dot, the port always written. Anything that
    `urlsplit` or botocore would read differently is refused rather than repaired."""
    _refuse_unsafe_characters(url)
    scheme, separator, rest = url.partition("://")
    scheme = scheme.lower()
    if not separator or scheme not in DEFAULT_PORTS:
        raise InvalidEndpoint(f"Start the URL with http:// or https://, e.g. {EXAMPLE}.")
    authority, tail = _split_authority(rest)
    if not authority:
        raise InvalidEndpoint(f"The URL has no host name, e.g. {EXAMPLE}.")
    _refuse_anything_after_the_port(tail)
    if "@" in authority:
        raise InvalidEndpoint(
            "A user name or password (user:password@) is not allowed in the URL; enter the "
            "credentials in their own fields."
        )
    host, port_text = _split_host_and_port(authority)
    return f"{scheme}://{host}:{_port(port_text, scheme)}"


def _refuse_unsafe_characters(url: str) -> None:
    for position, char in enumerate(url, 1):
        if char.isspace() or unicodedata.category(char)[0] in "CZ":
            raise InvalidEndpoint(
                f"The URL contains a control character or whitespace (U+{ord(char):04X} at "
                f"position {position}); remove it."
            )
        if not char.isascii():
            raise InvalidEndpoint(
                f"The URL contains the non-ASCII character {char!r} (U+{ord(char):04X}); enter "
                "the host name in its ASCII (xn--) form."
            )
        if char == "\\":
            raise InvalidEndpoint("The URL contains a backslash (\\); use only forward slashes.")


def _split_authority(rest: str) -> tuple[str, str]:
    """(host[:port], whatever follows it: path, query, fragment)."""
    ends = [index for index in (rest.find(c) for c in "/?#") if index != -1]
    end = min(ends, default=len(rest))
    return rest[:end], rest[end:]


def _refuse_anything_after_the_port(tail: str) -> None:
    if "#" in tail:
        raise InvalidEndpoint("A fragment (#…) is not allowed in an S3 Endpoint URL.")
    if "?" in tail:
        raise InvalidEndpoint("A query (?…) is not allowed in an S3 Endpoint URL.")
    if tail not in ("", "/"):
        raise InvalidEndpoint(
            f"A path ({tail}) is not allowed: enter only scheme://host:port, e.g. {EXAMPLE}."
        )


def _split_host_and_port(authority: str) -> tuple[str, str | None]:
    """(normalised host, the text after its ":" or None when there is no ":")."""
    if authority.startswith("["):
        return _split_bracketed(authority)
    if "[" in authority or "]" in authority:
        raise InvalidEndpoint(
            "Square brackets may only enclose a whole IPv6 address, e.g. http://[::1]:9000."
        )
    if authority.count(":") > 1:
        raise InvalidEndpoint("Put an IPv6 address in square brackets, e.g. http://[::1]:9000.")
    host, colon, port_text = authority.partition(":")
    if "%" in host:
        raise InvalidEndpoint("Percent-encoded characters (%…) are not allowed in the host name.")
    return _hostname(host), port_text if colon else None


def _split_bracketed(authority: str) -> tuple[str, str | None]:
    close = authority.find("]")
    if close == -1:
        raise InvalidEndpoint("An IPv6 address opened with [ is not closed with ].")
    literal, after = authority[1:close], authority[close + 1 :]
    if "[" in literal or "[" in after or "]" in after:
        raise InvalidEndpoint("The URL has more than one pair of square brackets.")
    if "%" in literal:
        raise InvalidEndpoint("An IPv6 zone id (%…) is not allowed in an S3 Endpoint URL.")
    if after and not after.startswith(":"):
        raise InvalidEndpoint("Only :port may follow the ] of an IPv6 address.")
    try:
        address = ipaddress.IPv6Address(literal)
    except ValueError:
        raise InvalidEndpoint(
            f"Only an IPv6 address goes in square brackets ({literal!r} is not one); write an "
            "IPv4 address or host name without them."
        ) from None
    return f"[{address.compressed}]", after[1:] if after else None


def _hostname(text: str) -> str:
    if not text:
        raise InvalidEndpoint(f"The URL has no host name, e.g. {EXAMPLE}.")
    host = text.lower().removesuffix(".")  # "example.com." is example.com
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL_RE.match(label) for label in labels):
        raise InvalidEndpoint(
            f"{text!r} is not a valid host name: use letters, digits, hyphens and dots, with "
            "at most 63 characters between dots."
        )
    if _NUMERIC_LABEL_RE.match(labels[-1]):
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise InvalidEndpoint(
                f"{text!r} is not a valid IPv4 address: write four numbers from 0 to 255 "
                "without leading zeros, e.g. 10.0.0.5."
            ) from None
    return host


def _port(text: str | None, scheme: str) -> int:
    if text is None:
        return DEFAULT_PORTS[scheme]
    if not text:
        raise InvalidEndpoint("The port after the colon is missing; remove the colon or add one.")
    if not (text.isdigit() and len(text) <= 5 and 1 <= int(text) <= 65535):
        raise InvalidEndpoint("The port must be a number from 1 to 65535.")
    return int(text)
