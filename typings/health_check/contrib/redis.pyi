import dataclasses
from collections.abc import Callable
from typing import Any

from health_check.base import HealthCheck

@dataclasses.dataclass
class Redis(HealthCheck):
    client: Any = None
    client_factory: Callable[[], Any] | None = None
    async def run(self) -> None: ...
