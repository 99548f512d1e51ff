"""An HTTP proxy in front of moto that injects S3 faults by rule: 503 SlowDown, 500, a reset
connection, a stall past the client's timeout, or 403 AccessDenied; it can also drop request
headers, as an endpoint that ignores them would."""

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

ERRORS = {
    503: ("SlowDown", "Please reduce your request rate."),
    500: ("InternalError", "We encountered an internal error. Please try again."),
    403: ("AccessDenied", "Access Denied"),
}


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
            upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            dropped = {"connection", *proxy.drop_headers}
            headers = {k: v for k, v in self.headers.items() if k.lower() not in dropped}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in {"transfer-encoding", "connection", "content-length"}:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            upstream.close()

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
            code, message = ERRORS[status]
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
            return True

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    return Handler


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
