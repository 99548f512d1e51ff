"""The registry of entity sources: every caller finds a connector's source here and talks to
it through the Source interface (connectors.sources.base). A new source is one module that
defines a Source subclass, added to SOURCES."""

from connectors.models import Connector
from connectors.sources.base import Source
from connectors.sources.s3 import S3Source

SOURCES: dict[str, Source] = {source.key: source for source in (S3Source(),)}
DEFAULT_SOURCE = next(iter(SOURCES))  # what the wizard offers first


def get_source(key: str) -> Source:
    try:
        return SOURCES[key]
    except KeyError:
        raise ValueError(f"Unknown entity source {key!r}") from None


def source_for(connector: Connector) -> Source:
    return get_source(connector.source_type)


def source_choices() -> list[tuple[str, str]]:
    return [(source.key, source.label) for source in SOURCES.values()]


def secret_field_names() -> list[str]:
    """Every source's secret fields, for error reports to hide when they are posted."""
    return sorted({name for source in SOURCES.values() for name in source.secret_fields})
