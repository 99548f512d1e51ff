"""A connector's bucket as runs reach it: its S3 client and its directories (Layout); the one
place runs get a client from the connector's settings."""

from typing import Any

from django.views.decorators.debug import sensitive_variables

from connectors.aws import shared_s3_client
from connectors.models import Connector
from connectors.sources.s3 import params_for_connector
from ingest.s3.keys import Layout


@sensitive_variables()  # botocore, below it, signs with the secret: keep it out of error reports
def client_for(connector: Connector) -> Any:
    """The connector's S3 client, shared by this process's threads (connectors.aws). Raises
    S3AccessError, saying why, when none can be built (an outage, or settings that no longer
    make one)."""
    return shared_s3_client(params_for_connector(connector))


def layout_for(connector: Connector) -> Layout:
    s3 = connector.s3
    return Layout(
        bucket=s3.bucket,
        source=s3.source_path,
        success=s3.success_path,
        failed=s3.failed_path,
        pattern=connector.file_pattern,
    )
