import dataclasses
import datetime
from collections.abc import Awaitable
from concurrent.futures import Executor
from typing import ClassVar

from health_check.exceptions import HealthCheckException

@dataclasses.dataclass
class HealthCheckResult:
    check: HealthCheck
    error: HealthCheckException | None
    time_taken: float

@dataclasses.dataclass
class HealthCheck:
    # A class attribute (not a dataclass field) in the library.
    timeout: ClassVar[datetime.timedelta]
    # Synchronous checks return None; asynchronous ones are coroutines.
    def run(self) -> Awaitable[None] | None: ...
    @property
    def labels(self) -> dict[str, str]: ...
    async def get_result(self, executor: Executor | None = None) -> HealthCheckResult: ...
