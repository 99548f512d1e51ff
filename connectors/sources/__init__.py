"""The registry of entity sources. A new source is one module that defines a `Source`
subclass and registers it here."""

from connectors.sources.base import Source
from connectors.sources.s3 import S3Source

SOURCES: dict[str, Source] = {source.key: source for source in (S3Source(),)}


def get_source(key: str) -> Source:
    try:
        return SOURCES[key]
    except KeyError:
        raise ValueError(f"Unknown entity source {key!r}") from None


def source_choices() -> list[tuple[str, str]]:
    return [(source.key, source.label) for source in SOURCES.values()]
