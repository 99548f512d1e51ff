from collections.abc import Sequence
from typing import Any

from django.db import models

class HistoryManager(models.Manager[Any]): ...

class HistoricalRecords:
    def __init__(
        self,
        verbose_name: str | None = None,
        verbose_name_plural: str | None = None,
        *,
        excluded_fields: Sequence[str] | None = None,
        cascade_delete_history: bool = False,
        **kwargs: Any,
    ) -> None: ...
    # On the model class, the attribute is the manager of its historical records.
    def __get__(self, instance: object, owner: type[models.Model]) -> HistoryManager: ...
