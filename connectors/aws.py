"""AWS clients for connectors, and error messages a person can act on.

Secrets live here only in memory, in the S3Params handed to boto3; they are never logged.
Every function holding one is marked sensitive_variables(), which hides its locals and those
of every frame it calls (botocore's signer holds the secret too) from error reports.
"""

import hashlib
import threading
import time
from dataclasses import astuple, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypedDict

import boto3
import botocore.session
import botocore.utils
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from connectors.endpoints import InvalidEndpoint, endpoint_origin
from connectors.models import AuthType

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client  # the types of boto3's S3 client (a dev dependency)
else:
    S3Client = Any  # botocore builds the client's class at run time


class Credentials(TypedDict, total=False):
    """What an S3 client is built with: a key pair, and a session token for a role's."""

    aws_access_key_id: str
    aws_secret_access_key: str
    aws_session_token: str


class S3AccessError(Exception):
    """An S3 or STS call failed; str() is a message for the user (never a secret)."""

    def __init__(self, message: str, *, code: str = "", transient: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.transient = transient


@dataclass(frozen=True)
class S3Params:
    bucket: str
    auth_type: str
    access_key_id: str = ""
    access_key_secret: str = field(default="", repr=False)
    iam_role_arn: str = ""
    external_id: str = ""
    region: str = ""
    endpoint_url: str = ""
    source_path: str = ""
    success_path: str = ""
    failed_path: str = ""
    session_name: str = "loadbay"


TRANSIENT_CODES = {
    "SlowDown",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "Throttling",
    "ThrottlingException",
    "503",
    "500",
}

MESSAGES = {
    "AccessDenied": "Access denied",
    "AllAccessDisabled": "All access to this bucket has been disabled",
    "NoSuchBucket": "The bucket does not exist",
    "InvalidAccessKeyId": "AWS does not recognise this Access Key ID",
    "SignatureDoesNotMatch": "The Access Key Secret does not match the Access Key ID",
    "InvalidClientTokenId": "AWS does not recognise this Access Key ID",
    "ExpiredToken": "The temporary credentials have expired",
    "PermanentRedirect": "The bucket is in another region: set Region to the bucket's region",
    "AuthorizationHeaderMalformed": "The Region does not match the bucket's region",
    "IllegalLocationConstraintException": "The Region does not match the bucket's region",
}


PRINCIPAL_UNSET = (
    "Loadbay's AWS principal is not set: the administrator must set LOADBAY_AWS_PRINCIPAL_ARN "
    "to the ARN of the IAM user or role Loadbay runs as. Until then there is no trust policy "
    "to add to your role, and an IAM-role connector cannot be set up."
)


def loadbay_principal() -> str:
    """The AWS principal Loadbay runs as (LOADBAY_AWS_PRINCIPAL_ARN), which a customer's role
    trusts; '' when the administrator has not set it (then PRINCIPAL_UNSET says so)."""
    return str(settings.LOADBAY_AWS_PRINCIPAL_ARN)


def _client_config() -> Config:
    return Config(
        connect_timeout=10,
        read_timeout=settings.S3_READ_TIMEOUT,
        retries={"max_attempts": 5, "mode": "standard"},
        signature_version="s3v4",
        max_pool_connections=settings.S3_MAX_POOL_CONNECTIONS,
    )


def describe_error(exc: Exception, *, action: str) -> S3AccessError:
    """Turn a boto3 exception into an S3AccessError whose message names what failed."""
    if isinstance(exc, S3AccessError):
        return exc
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        reason = MESSAGES.get(code) or error.get("Message") or code or "request failed"
        return S3AccessError(
            f"{action}: {reason} ({code})", code=code, transient=code in TRANSIENT_CODES
        )
    if isinstance(exc, EndpointConnectionError):
        return S3AccessError(
            f"{action}: cannot reach {exc.kwargs.get('endpoint_url', 'the endpoint')}",
            code="EndpointConnectionError",
            transient=True,
        )
    if isinstance(exc, BotoCoreError):
        return S3AccessError(f"{action}: {exc}", code=type(exc).__name__, transient=True)
    raise exc


@sensitive_variables()
def _assume_role(params: S3Params) -> Credentials:
    sts = boto3.client(
        "sts",
        region_name=params.region or settings.AWS_DEFAULT_REGION,
        endpoint_url=settings.LOADBAY_STS_ENDPOINT_URL or None,
        config=_client_config(),
    )
    try:
        response = sts.assume_role(
            RoleArn=params.iam_role_arn,
            RoleSessionName=params.session_name[:64],
            ExternalId=params.external_id,
            DurationSeconds=3600,
        )
    except (ClientError, BotoCoreError) as exc:
        error = describe_error(exc, action=f"Assuming role {params.iam_role_arn}")
        if error.code == "AccessDenied":
            principal = loadbay_principal()
            trusted = principal or "Loadbay's AWS principal (LOADBAY_AWS_PRINCIPAL_ARN, not set)"
            raise S3AccessError(
                f"Assuming role {params.iam_role_arn} was refused: its trust policy must allow "
                f"sts:AssumeRole for {trusted} with External ID {params.external_id}."
                + ("" if principal else " " + PRINCIPAL_UNSET),
                code="AccessDenied",
            ) from exc
        raise error from exc
    creds = response["Credentials"]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


@sensitive_variables()
def credentials_for(params: S3Params) -> Credentials:
    if params.auth_type == AuthType.IAM_ROLE:
        return _assume_role(params)
    return {
        "aws_access_key_id": params.access_key_id,
        "aws_secret_access_key": params.access_key_secret,
    }


def endpoint_to_use(endpoint_url: str) -> str | None:
    """The normalised origin a client connects to (None: AWS S3). Checked on every use, so
    narrowing S3_ALLOWED_ENDPOINTS takes effect at once and a URL stored by an older, laxer
    version is refused with a reason."""
    if not endpoint_url:
        return None
    try:
        origin = endpoint_origin(endpoint_url)
    except InvalidEndpoint as exc:
        raise S3AccessError(
            f"The S3 Endpoint URL is not valid: {exc} Edit the connector.", code="EndpointInvalid"
        ) from None
    if origin not in settings.S3_ALLOWED_ENDPOINTS:
        raise S3AccessError(
            f"The S3 Endpoint URL {origin} is not allowed by this installation "
            "(S3_ALLOWED_ENDPOINTS); edit the connector or ask an administrator.",
            code="EndpointNotAllowed",
        )
    return origin


_local = threading.local()
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def parse_timestamp(value: Any) -> datetime:
    """botocore's timestamp parser, made fast for the two forms S3 sends: ISO 8601 in UTC in
    XML ("2026-11-25T15:46:08.000Z") and the HTTP date of headers ("Wed, 25 Nov 2026 15:46:08
    GMT"). botocore hands any timestamp to dateutil, at about a third of a millisecond each:
    a tenth of the client's CPU for a GET, and most of it for a listing's 1,000 keys. Anything
    else goes to botocore's own parser, so results never differ."""
    if isinstance(value, str) and value.isascii():
        if len(value) >= 20 and value[-1] == "Z" and value[10] == "T":
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                pass
        elif len(value) == 29 and value.endswith(" GMT") and value[3] == ",":
            parsed = _http_date(value)
            if parsed is not None:
                return parsed
    return botocore.utils.parse_timestamp(value)


def _http_date(value: str) -> datetime | None:
    """RFC 7231's IMF-fixdate, e.g. "Wed, 25 Nov 2026 15:46:08 GMT"; None if it is not one."""
    day, month, year, clock = value[5:7], value[8:11], value[12:16], value[17:25]
    if not (day.isdigit() and year.isdigit() and month in _MONTHS and clock[2::3] == "::"):
        return None
    hour, minute, second = clock[0:2], clock[3:5], clock[6:8]
    if not (hour.isdigit() and minute.isdigit() and second.isdigit()):
        return None
    try:
        return datetime(
            int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=UTC
        )
    except ValueError:
        return None


def _thread_session() -> boto3.session.Session:
    """This thread's boto3 session. boto3's default session is not safe to share between
    threads, and a new session per client reloads the service models (~0.1 s a client); the
    session holds no credentials: each client is given its own. Its clients parse timestamps
    with parse_timestamp (as the AWS CLI sets its own parser, on the same hook)."""
    session = getattr(_local, "session", None)
    if session is None:
        core = botocore.session.get_session()
        core.get_component("response_parser_factory").set_parser_defaults(
            timestamp_parser=parse_timestamp
        )
        session = _local.session = boto3.session.Session(botocore_session=core)
    return session


@sensitive_variables()
def make_s3_client(params: S3Params) -> S3Client:
    """A new S3 client for the connector's bucket (assuming its role first, if it uses one):
    what a check of the settings needs, so that it proves them afresh. Whatever goes wrong
    while building it (botocore raises a plain ValueError for some settings) is an
    S3AccessError that says so."""
    endpoint = endpoint_to_use(params.endpoint_url)
    credentials: Credentials = {}
    try:
        credentials = credentials_for(params)
        return _thread_session().client(
            "s3",
            region_name=params.region or settings.AWS_DEFAULT_REGION,
            endpoint_url=endpoint,
            config=_client_config(),
            **credentials,
        )
    except S3AccessError:
        raise
    except Exception as exc:
        secrets = [params.access_key_secret, *_credential_values(credentials)]
        reason = _without(secrets, str(exc))
        raise S3AccessError(
            f"Could not set up an S3 client with these settings: {reason or type(exc).__name__}",
            code="ClientSetupFailed",
        ) from exc


def _credential_values(credentials: Credentials) -> list[str]:
    return [
        credentials.get("aws_access_key_id", ""),
        credentials.get("aws_secret_access_key", ""),
        credentials.get("aws_session_token", ""),
    ]


def _without(secrets: list[str], text: str) -> str:
    """`text` with every secret in it masked (a message from a library may quote one)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


_clients: dict[str, tuple[float, S3Client]] = {}
_clients_lock = threading.Lock()
MAX_CACHED_CLIENTS = 64


@sensitive_variables()
def shared_s3_client(params: S3Params) -> S3Client:
    """An S3 client for runs, shared by the threads of this process and kept for
    S3_CLIENT_MAX_AGE seconds. Building a client costs tens of milliseconds and its
    connections start cold, which a run of many small files paid once a batch. boto3 clients
    are thread-safe. Changed settings (a new secret, endpoint or role) make a new client, and
    the endpoint allow-list is checked on every call."""
    endpoint_to_use(params.endpoint_url)
    key = _fingerprint(params)
    now = time.monotonic()
    with _clients_lock:
        cached = _clients.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
    client = make_s3_client(params)
    with _clients_lock:
        if len(_clients) >= MAX_CACHED_CLIENTS:
            _clients.clear()
        _clients[key] = (now + settings.S3_CLIENT_MAX_AGE, client)
    return client


def forget_s3_clients() -> None:
    with _clients_lock:
        _clients.clear()


def _fingerprint(params: S3Params) -> str:
    """A digest of everything a client is built from, so the secret itself is not a key."""
    parts = [*astuple(params), settings.S3_READ_TIMEOUT, settings.AWS_DEFAULT_REGION]
    return hashlib.sha256(repr(parts).encode()).hexdigest()
