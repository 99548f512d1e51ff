import dataclasses

from health_check.base import HealthCheck

@dataclasses.dataclass
class Database(HealthCheck):
    alias: str = "default"
    def run(self) -> None: ...
