"""S3 clients of runs, wrapped by tests: to count the calls made, or to act as an endpoint or a
customer would between two of them."""

from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from connectors.sources import s3 as s3_source


class Counting:
    """The real client, counting the calls made through it by name."""

    def __init__(self, client: Any, calls: dict[str, int]) -> None:
        self._client, self._calls = client, calls

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._calls[name] = self._calls.get(name, 0) + 1
            return attribute(*args, **kwargs)

        return counted


Wrapper = TypeVar("Wrapper")


def wrap_clients(monkeypatch: pytest.MonkeyPatch, wrap: Callable[[Any], Wrapper]) -> list[Wrapper]:
    """Runs get their S3 clients through `wrap`; returns the wrappers made, in order."""
    real = s3_source.shared_s3_client
    made: list[Wrapper] = []

    def client(params: Any) -> Any:
        made.append(wrap(real(params)))
        return made[-1]

    monkeypatch.setattr(s3_source, "shared_s3_client", client)
    return made
