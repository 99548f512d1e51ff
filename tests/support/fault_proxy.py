"""An HTTP proxy in front of moto that injects S3 faults by rule: 503 SlowDown, 500, a reset
connection, a stall past the client's timeout, or 403 AccessDenied; it can also drop request
headers, as an endpoint that ignores them would. Like AWS S3 (and unlike moto) it refuses to
write a key longer than 1,024 bytes; with `honour_conditions` it also honours the conditions
moto ignores (CopySourceIfMatch, the ETags in DeleteObjects), as AWS S3 does."""

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import boto3
from botocore.exceptions import ClientError

ERRORS = {
    503: ("SlowDown", "Please reduce your request rate."),
    500: ("InternalError", "We encountered an internal error. Please try again."),
    403: ("AccessDenied", "Access Denied"),
}
MAX_KEY_BYTES = 1024  # AWS S3's limit on a key, in UTF-8 bytes
S3_XMLNS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@dataclass
class Rule:
    method: str  # GET, PUT, POST, DELETE, HEAD or "*"
    path_has: str  # a substring of the path and query, e.g. "incoming/" or "?delete"
    action: str  # "503", "500", "403", "reset" or "stall"
    times: int = 1_000_000  # how many matching requests get the fault
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and self.path_has in path and self.hits < self.times


@dataclass
class FaultProxy:
    upstream: str
    rules: list[Rule] = field(default_factory=list)
    url: str = ""
    drop_headers: set[str] = field(default_factory=set)  # lower-case names never forwarded
    honour_conditions: bool = False  # answer CopySourceIfMatch and DeleteObjects' ETags
    faults_injected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def rule_for(self, method: str, path: str) -> Rule | None:
        with self.lock:
            for rule in self.rules:
                if rule.matches(method, path):
                    rule.hits += 1
                    self.faults_injected += 1
                    return rule
        return None


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(proxy.upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            rule = proxy.rule_for(self.command, self.path)
            if rule is not None and self._inject(rule):
                return
            if self.command in {"PUT", "POST"} and len(_key_of(self.path).encode()) > MAX_KEY_BYTES:
                self._error(400, "KeyTooLongError", "Your key is too long")
                return
            if proxy.honour_conditions and self._refused_by_condition(body):
                return
            dropped = {"connection", *proxy.drop_headers}
            headers = {k: v for k, v in self.headers.items() if k.lower() not in dropped}
            status, response_headers, payload = _forward(self.command, self.path, body, headers)
            self.send_response(status)
            for key, value in response_headers:
                if key.lower() not in {"transfer-encoding", "connection", "content-length"}:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _refused_by_condition(self, body: bytes) -> bool:
            """Answer what moto would get wrong: a copy whose source no longer has the ETag
            named (412), a DeleteObjects naming ETags (each key deleted only if it matches)."""
            wanted = self.headers.get("x-amz-copy-source-if-match")
            if self.command == "PUT" and wanted:
                bucket, key = unquote(self.headers["x-amz-copy-source"]).lstrip("/").split("/", 1)
                if _current_etag(bucket, key) != wanted.strip('"'):
                    self._error(412, "PreconditionFailed", "At least one of the pre-conditions")
                    return True
                return False
            if self.command == "POST" and urlsplit(self.path).query.startswith("delete"):
                self._conditional_delete(urlsplit(self.path).path.strip("/"), body)
                return True
            return False

        def _conditional_delete(self, bucket: str, body: bytes) -> None:
            quiet = b"<Quiet>true</Quiet>" in body
            deleted, errors = [], []
            for item in ElementTree.fromstring(body).iter(  # noqa: S314 - the test's own client
                f"{S3_XMLNS}Object"
            ):
                key = item.findtext(f"{S3_XMLNS}Key", "")
                etag = (item.findtext(f"{S3_XMLNS}ETag") or "").strip('"')
                current = _current_etag(bucket, key)
                if etag and current is not None and current != etag:
                    errors.append(
                        f"<Error><Key>{escape(key)}</Key><Code>PreconditionFailed</Code>"
                        "<Message>At least one of the pre-conditions you specified did not "
                        "hold</Message></Error>"
                    )
                    continue
                _signed().delete_object(Bucket=bucket, Key=key)
                deleted.append(f"<Deleted><Key>{escape(key)}</Key></Deleted>")
            xml = (
                "<?xml version='1.0' encoding='UTF-8'?><DeleteResult "
                'xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                + ("" if quiet else "".join(deleted))
                + "".join(errors)
                + "</DeleteResult>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(xml)))
            self.end_headers()
            self.wfile.write(xml)

        def _error(self, status: int, code: str, message: str) -> None:
            xml = (
                f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
                f"<Message>{message}</Message></Error>"
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(xml)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(xml)

        def _inject(self, rule: Rule) -> bool:
            if rule.action == "reset":
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                self.connection.close()
                return True
            if rule.action == "stall":
                time.sleep(3)
                self.connection.close()
                return True
            status = int(rule.action)
            self._error(status, *ERRORS[status])
            return True

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    def _forward(
        method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        try:
            upstream.request(method, path, body=body, headers=headers)
            response = upstream.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            upstream.close()

    clients: list[Any] = []

    def _signed() -> Any:
        """A client of the upstream (moto refuses unsigned requests), for the proxy's own."""
        if not clients:
            clients.append(_upstream_client(proxy.upstream))
        return clients[0]

    def _current_etag(bucket: str, key: str) -> str | None:
        """The ETag the object has now; None if there is none."""
        try:
            return _signed().head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
        except ClientError:
            return None

    return Handler


def _upstream_client(upstream: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=upstream,
        region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="proxy-of-the-test-suite-000000000000000",
    )


def _key_of(path: str) -> str:
    """The object key of a path-style request (/bucket/key?query), decoded."""
    parts = unquote(urlsplit(path).path).lstrip("/").split("/", 1)
    return parts[1] if len(parts) == 2 else ""


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream=upstream)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
