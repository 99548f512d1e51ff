"""A connector's bucket as runs reach it: its S3 client and its directories (Layout), both
asked of the connector's Source; the one place runs (and the wizard's samples) get them."""

from typing import Any

from django.views.decorators.debug import sensitive_variables

from connectors.models import Connector
from connectors.sources import source_for
from connectors.sources.base import SourceDirectories
from ingest.s3.keys import Layout


@sensitive_variables()  # botocore, below it, signs with the secret: keep it out of error reports
def client_for(connector: Connector) -> Any:
    """The connector's S3 client, shared by this process's threads (connectors.aws). Raises
    S3AccessError, saying why, when none can be built (an outage, or settings that no longer
    make one)."""
    return source_for(connector).client(connector)


def layout_for(connector: Connector) -> Layout:
    return layout_of(source_for(connector).directories(connector), connector.file_pattern)


def layout_of(where: SourceDirectories, pattern: str) -> Layout:
    """The files a connector with these directories and Source File Prefix / pattern takes
    (saved or not: the wizard's sample is chosen the same way)."""
    return Layout(
        bucket=where.bucket,
        source=where.source,
        success=where.success,
        failed=where.failed,
        pattern=pattern,
    )
