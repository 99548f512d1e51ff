"""Sign-in is throttled after repeated failures."""

from django.core.cache import cache
from django.test import Client

from tests.conftest import PASSWORD


def attempt(client: Client, password: str) -> str:
    return client.post(
        "/accounts/login/", {"username": "alice", "password": password}
    ).content.decode()


def test_it_signs_in_with_the_right_password(alice) -> None:
    cache.clear()
    response = Client().post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302


def test_it_refuses_even_the_right_password_after_five_failures(alice, settings) -> None:
    cache.clear()
    client = Client()
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        assert "Please enter a correct username and password" in attempt(client, "wrong")
    page = attempt(client, PASSWORD)
    assert "Too many failed sign-in attempts" in page
    assert "_auth_user_id" not in client.session


def test_throttling_counts_per_address_too(alice, bob, settings) -> None:
    cache.clear()
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 3
    client = Client()
    for name in ("x1", "x2", "x3"):
        client.post("/accounts/login/", {"username": name, "password": "wrong"})
    response = client.post("/accounts/login/", {"username": "bob", "password": PASSWORD})
    assert "Too many failed sign-in attempts" in response.content.decode()
