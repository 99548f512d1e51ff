"""The strict S3 endpoint parser: one normalised origin, or a reason naming what is wrong."""

import re

import pytest

from connectors.endpoints import InvalidEndpoint, endpoint_origin


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://127.0.0.1:4570", "http://127.0.0.1:4570"),
        ("http://127.0.0.1:4570/", "http://127.0.0.1:4570"),
        ("https://minio.example.com", "https://minio.example.com:443"),
        ("http://minio.example.com", "http://minio.example.com:80"),
        ("HTTPS://MinIO.Example.COM:9000", "https://minio.example.com:9000"),
        ("https://minio.example.com.:9000", "https://minio.example.com:9000"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("http://[0:0:0:0:0:0:0:1]:9000/", "http://[::1]:9000"),
        ("http://[2001:DB8::A]", "http://[2001:db8::a]:80"),
        ("http://localhost:09000", "http://localhost:9000"),
        ("http://s3-eu.internal-1.example:65535", "http://s3-eu.internal-1.example:65535"),
    ],
)
def test_it_normalises_scheme_host_and_port(url: str, origin: str) -> None:
    assert endpoint_origin(url) == origin


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        # The examples.
        ("http://127.0.0.1:\t4570", "control character or whitespace (U+0009"),
        ("http://[127.0.0.1]:4570", "Only an IPv6 address goes in square brackets"),
        ("http://[::1", "not closed with ]"),
        ("http://127.0.0.1:4570/moto-api", "A path (/moto-api) is not allowed"),
        ("http://127.0.0.1:4570/../../", "A path (/../../) is not allowed"),
        # Characters that urlsplit drops or that other parsers read differently.
        ("http://127.0.0.1:4570\n", "control character or whitespace (U+000A"),
        ("http://127.0.0.1:45\r70", "control character or whitespace (U+000D"),
        ("http://127.0.0.1 :4570", "control character or whitespace (U+0020"),
        ("http://127.0.0.1:4570\x00", "control character or whitespace (U+0000"),
        ("http://127.0.0.1\u200b:4570", "control character or whitespace (U+200B"),
        ("http://127.0.0.1\u00a0:4570", "control character or whitespace (U+00A0"),
        ("http://\uff11\uff12\uff17.0.0.1:4570", "non-ASCII character"),  # fullwidth 127
        ("http://mínio.example.com", "non-ASCII character"),
        ("http://evil.example\\@127.0.0.1:4570", "backslash"),
        ("http://127.0.0.1%09:4570", "Percent-encoded characters"),
        ("http://127%2e0.0.1:4570", "Percent-encoded characters"),
        ("http://127.0.0.1:4570/%2e%2e/", "A path (/%2e%2e/) is not allowed"),
        # Brackets.
        ("http://[fe80::1%25eth0]:9000", "zone id"),
        ("http://[fe80::1%eth0]:9000", "zone id"),
        ("http://[::1]]:9000", "more than one pair of square brackets"),
        ("http://[[::1]]:9000", "more than one pair of square brackets"),
        ("http://[::1]9000", "Only :port may follow"),
        ("http://::1:9000", "Put an IPv6 address in square brackets"),
        ("http://127.0.0.1]:4570", "Square brackets may only enclose"),
        ("http://[]:9000", "Only an IPv6 address goes in square brackets"),
        # Userinfo, query, fragment, paths.
        ("http://user:pw@127.0.0.1:4570", "user name or password"),
        ("http://@127.0.0.1:4570", "user name or password"),
        ("http://127.0.0.1:4570@evil.example", "user name or password"),
        ("http://127.0.0.1:4570?x=1", "A query"),
        ("http://127.0.0.1:4570/?", "A query"),
        ("http://127.0.0.1:4570#top", "A fragment"),
        ("http://127.0.0.1:4570//", "A path (//) is not allowed"),
        ("http://127.0.0.1:4570/bucket/", "A path (/bucket/) is not allowed"),
        # Ports.
        ("http://127.0.0.1:", "port after the colon is missing"),
        ("http://127.0.0.1:0", "from 1 to 65535"),
        ("http://127.0.0.1:65536", "from 1 to 65535"),
        ("http://127.0.0.1:-1", "from 1 to 65535"),
        ("http://127.0.0.1:+80", "from 1 to 65535"),
        ("http://127.0.0.1:0x50", "from 1 to 65535"),
        ("http://127.0.0.1:4570:4571", "Put an IPv6 address in square brackets"),
        # Schemes and hosts.
        ("ftp://127.0.0.1:4570", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("127.0.0.1:4570", "http:// or https://"),
        ("//127.0.0.1:4570", "http:// or https://"),
        ("http:127.0.0.1:4570", "http:// or https://"),
        ("http:///127.0.0.1", "no host name"),
        ("http://:4570", "no host name"),
        ("http://", "no host name"),
        ("http://minio_1:9000", "not a valid host name"),
        ("http://-minio:9000", "not a valid host name"),
        ("http://minio..example:9000", "not a valid host name"),
        ("http://" + "a" * 64 + ".example", "not a valid host name"),
        ("http://.", "not a valid host name"),
        ("http://2130706433:80", "not a valid IPv4 address"),
        ("http://127.1:80", "not a valid IPv4 address"),
        ("http://0177.0.0.1:80", "not a valid IPv4 address"),
        ("http://0x7f.0.0.1:80", "not a valid IPv4 address"),
        ("http://127.0.0.256:80", "not a valid IPv4 address"),
    ],
)
def test_it_refuses_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(InvalidEndpoint, match=re.escape(reason)):
        endpoint_origin(url)


def test_a_refusal_never_quotes_the_password() -> None:
    with pytest.raises(InvalidEndpoint) as refused:
        endpoint_origin("https://admin:hunter2-pw@minio.example.com:9000")
    assert "hunter2" not in str(refused.value)
