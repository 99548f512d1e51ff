"""The SSRF rules of webhook URLs: parsed as strictly as the S3 Endpoint URL (a path and a
query allowed), every address the host resolves to must be public unless the origin is
allowed by LOADBAY_WEBHOOK_ALLOWED_ENDPOINTS."""

import pytest

from alerts.targets import HostNotResolved, WebhookRefused, check, split_url


def test_a_url_is_split_into_its_normalised_origin_and_its_path() -> None:
    assert split_url("HTTPS://Hooks.Example.com/a/b?x=1&y=%20") == (
        "https://hooks.example.com:443",
        "/a/b?x=1&y=%20",
    )
    assert split_url("http://hooks.example.com:8080") == ("http://hooks.example.com:8080", "/")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://hooks.example.com/", "http:// or https://"),
        ("https://user:pw@hooks.example.com/", "user name or password"),
        ("https://hooks.example.com/a#frag", "fragment"),
        ("https://hooks.example.com/a b", "whitespace"),
        ("https://hooks.example.com/<script>", "percent-encode"),
        ("https://[127.0.0.1]/", "Only an IPv6 address"),
    ],
)
def test_a_malformed_url_is_refused_saying_why(url: str, says: str) -> None:
    with pytest.raises(WebhookRefused, match=says):
        split_url(url)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1/", "a loopback"),
        ("http://[::1]/", "a loopback"),
        ("http://169.254.169.254/latest/meta-data/", "a link-local"),
        ("http://10.0.0.5/", "a private"),
        ("http://192.168.1.1/", "a private"),
        ("http://[::ffff:127.0.0.1]/", "a loopback"),
        ("http://224.0.0.1/", "a multicast"),
        ("http://0.0.0.0/", "an unspecified"),
        ("http://100.64.0.1/", "a non-public"),
    ],
)
def test_an_address_that_is_not_public_is_refused(url: str, kind: str) -> None:
    with pytest.raises(WebhookRefused, match=f"is {kind} address"):
        check(url)


@pytest.mark.parametrize("address", ["127.0.0.1", "169.254.169.254", "10.9.8.7", "fd00::1"])
def test_a_host_name_resolving_to_a_non_public_address_is_refused(resolves, address) -> None:
    resolves["hooks.example.com"] = ["93.184.215.14", address]  # any one of them counts
    with pytest.raises(WebhookRefused, match=f"resolves to {address}"):
        check("https://hooks.example.com/hook")


def test_a_public_host_is_accepted_with_the_address_to_connect_to(resolves) -> None:
    resolves["hooks.example.com"] = ["93.184.215.14"]
    target = check("https://hooks.example.com/hook?a=1")
    assert (target.scheme, target.host, target.port, target.path, target.address) == (
        "https",
        "hooks.example.com",
        443,
        "/hook?a=1",
        "93.184.215.14",
    )


def test_an_allowed_origin_may_resolve_anywhere(resolves, settings) -> None:
    resolves["hooks.internal"] = ["10.0.0.7"]
    with pytest.raises(WebhookRefused):
        check("http://hooks.internal:8080/hook")
    settings.LOADBAY_WEBHOOK_ALLOWED_ENDPOINTS = ["http://hooks.internal:8080"]
    assert check("http://hooks.internal:8080/hook").address == "10.0.0.7"
    with pytest.raises(WebhookRefused):  # another port is another origin
        check("http://hooks.internal:8081/hook")


def test_a_host_that_does_not_resolve_is_refused_saying_so(resolves) -> None:
    with pytest.raises(HostNotResolved, match="could not be resolved"):
        check("https://nowhere.example.com/hook")
