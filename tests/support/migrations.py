"""Moving the test database between migrations, for upgrade tests."""

from typing import Any

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets: list[tuple[str, str]]) -> Any:
    """Migrate the test database to `targets`; the apps as they were there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


def latest(apps: set[str] | None = None) -> list[tuple[str, str]]:
    """The newest migration of each of our apps (or of `apps`)."""
    ours = apps or {"entities", "connectors", "ingest", "alerts"}
    graph = MigrationExecutor(connection).loader.graph
    return [node for node in graph.leaf_nodes() if node[0] in ours]
