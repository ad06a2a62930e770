#!/usr/bin/env python3
"""A small HTTP backend for cronq's tests and `make demo` (loopback only).

It stands in for the web app whose cron endpoints cronq calls:
  /cron/ee-recent /cron/parties-import /cron/check-current /cron/mop-recent   the template's jobs (200)
  /demo/flaky           503 twice per Idempotency-Key, then 200
  /demo/unauthorized    always 401
and offers test behaviours:
  /status/<code>        answers <code>
  /slow/<ms>            waits <ms> then 200 (logged 499 if the caller hung up meanwhile)
  /retry-after/<value>  503 with Retry-After: <value> (URL-decoded)
  /redirect             302 to /status/200
  /echo                 200 with a JSON echo of method, path, headers and body
  /huge-body/<n>        200 with an <n>-byte body
  /trickle/<ms>         200 whose body arrives a byte every <ms>, for ever
  /raw/<name>           a broken answer: giant-status, negative-status, no-status-line, huge-header,
                        header-flood, control-headers, retry-after-giant, retry-after-digits, short-body
  /flaky/<key>/<n>      503 for the first <n> calls with <key>, then 200
  /random-fail/<pct>    503 for <pct>% of calls at random, else 200 (soak and chaos tests)
  /down-between/<a>/<b> 503 from Unix time <a> until <b>, else 200 (the breaker test's outage)

With --tls-cert/--tls-key it serves HTTPS (the TLS tests generate a self-signed certificate).
/cron/* and /demo/* require `Authorization: Bearer <token>` when --token (or BACKEND_TOKEN) is set,
compared in constant time (hmac.compare_digest). Every request is logged as one JSON line to --log
(without the Authorization header). The first line on stdout is `listening 127.0.0.1:<port>`.
"""
import argparse
import hmac
import json
import os
import random
import select
import socket
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counters = {}
lock = threading.Lock()


def bump(key):
    with lock:
        counters[key] = counters.get(key, 0) + 1
        return counters[key]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cronq-test-backend"

    def log_message(self, fmt, *args):  # silence the default stderr access log
        pass

    def _reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._log(status)

    def _log(self, status):
        if not self.server.log_file:
            return
        entry = {
            "t": time.time(),
            "t0": getattr(self, "_t0", None),  # when the request arrived: [t0, t] is its time in flight
            "method": self.command,
            "path": self.path,
            "status": status,
            "idempotency_key": self.headers.get("Idempotency-Key"),
            "job": self.headers.get("X-Cronq-Job"),
            "attempt": self.headers.get("X-Cronq-Attempt"),
            "peer": self.client_address[1],  # the caller's port: one per connection it opened
            # For the hostile tests: where the caller aimed, and whether a token ever rode in a body.
            "host": self.headers.get("Host"),
            "authorized": self._authorized() if self.server.token else None,
            "body_has_token": bool(self.server.token) and self.server.token.encode() in getattr(self, "_body", b""),
            "body_has_authorization": b"authorization" in getattr(self, "_body", b"").lower(),
        }
        if self.path.startswith("/sink"):
            entry["body"] = getattr(self, "_body", b"").decode("utf-8", "replace")
            entry["signature"] = self.headers.get("webhook-signature")
        with lock:
            with open(self.server.log_file, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def _client_gone(self):
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _authorized(self):
        token = self.server.token
        if not token:
            return True
        got = self.headers.get("Authorization", "")
        return hmac.compare_digest(got.encode(), ("Bearer " + token).encode())

    def _handle(self):
        self._t0 = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self._body = body
        path = urllib.parse.urlsplit(self.path).path
        parts = [p for p in path.split("/") if p]
        if parts[:1] in (["cron"], ["demo"]) and not self._authorized():
            return self._reply(401, b'{"error":"unauthorized"}')
        if parts[:1] == ["cron"]:
            return self._reply(200, b'{"ok":true}', {"Content-Type": "application/json"})
        if parts[:1] == ["sink"]:
            # A notification sink (Slack or webhook): 200, and its body is logged for the test to read.
            return self._reply(200, b"ok")
        if parts == ["demo", "flaky"]:
            n = bump("demo-flaky:" + (self.headers.get("Idempotency-Key") or ""))
            return self._reply(503 if n <= 2 else 200, b"flaky")
        if parts == ["demo", "unauthorized"]:
            return self._reply(401, b'{"error":"unauthorized"}')
        if len(parts) == 2 and parts[0] == "status":
            return self._reply(int(parts[1]), ("status %s" % parts[1]).encode())
        if len(parts) == 2 and parts[0] == "slow":
            time.sleep(int(parts[1]) / 1000.0)
            if self._client_gone():
                # The caller timed out and hung up: log it as nginx does (499), answer nobody.
                self.close_connection = True
                return self._log(499)
            return self._reply(200, b"slow")
        if len(parts) == 2 and parts[0] == "retry-after":
            return self._reply(503, b"busy", {"Retry-After": urllib.parse.unquote(parts[1])})
        if parts == ["redirect"]:
            return self._reply(302, b"", {"Location": "/status/200"})
        if parts == ["echo"]:
            echo = {
                "method": self.command,
                "path": self.path,
                "headers": {k: v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
            }
            return self._reply(200, json.dumps(echo).encode(), {"Content-Type": "application/json"})
        if len(parts) == 2 and parts[0] == "huge-body":
            return self._reply(200, b"x" * int(parts[1]))
        if len(parts) == 2 and parts[0] == "trickle":
            # Headers at once, then one body byte every <ms> for ever: only the caller's timeout ends it.
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            try:
                for _ in range(100000):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(int(parts[1]) / 1000.0)
            except OSError:
                pass
            self.close_connection = True
            return self._log(499)
        if len(parts) == 2 and parts[0] == "raw":
            # Answers no well-behaved server gives (the hostile-backend tests).
            raw = {
                "giant-status": b"HTTP/1.1 99999999999999999999 OK\r\nContent-Length: 0\r\n\r\n",
                "negative-status": b"HTTP/1.1 -503 Busy\r\nContent-Length: 0\r\n\r\n",
                "no-status-line": b"garbage garbage\r\n\r\n",
                "huge-header": b"HTTP/1.1 503 Busy\r\nX-Big: " + b"y" * 300000 + b"\r\nContent-Length: 0\r\n\r\n",
                "header-flood": b"HTTP/1.1 503 Busy\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(20000)) + b"Content-Length: 0\r\n\r\n",
                "control-headers": b"HTTP/1.1 503 Busy\r\nRetry-After: \x1b[2J99\x07\r\nLocation: /x\x1b]0;t\x07\r\nContent-Length: 5\r\n\r\n\x1b[31mred",
                "retry-after-giant": b"HTTP/1.1 503 Busy\r\nRetry-After: Sun, 06 Nov 999999999999 08:49:37 GMT\r\nContent-Length: 0\r\n\r\n",
                "retry-after-digits": b"HTTP/1.1 429 Slow\r\nRetry-After: " + b"9" * 5000 + b"\r\nContent-Length: 0\r\n\r\n",
                "short-body": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
            }.get(parts[1])
            if raw is None:
                return self._reply(404, b"no such raw answer")
            try:
                self.wfile.write(raw)
                self.wfile.flush()
            except OSError:
                pass
            self.close_connection = True
            return self._log(-1)
        if len(parts) == 3 and parts[0] == "down-between":
            # An outage on a timetable: 503 from <from> until <until> (Unix seconds), 200 otherwise.
            down = float(parts[1]) <= time.time() < float(parts[2])
            return self._reply(503 if down else 200, b"down" if down else b"up")
        if len(parts) == 2 and parts[0] == "random-fail":
            return self._reply(503 if random.random() * 100 < float(parts[1]) else 200, b"random")
        if len(parts) == 3 and parts[0] == "flaky":
            n = bump("flaky:" + parts[1])
            return self._reply(503 if n <= int(parts[2]) else 200, b"flaky")
        return self._reply(404, b"not found")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default backlog of 5 drops connections under a burst

    def handle_error(self, request, client_address):
        # A client that timed out and hung up is part of the tests, not an error worth a traceback.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def main():
    # A parent (a test runner) may have SIGTERM ignored or blocked; we must still stop on it.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--token", default=os.environ.get("BACKEND_TOKEN", ""))
    ap.add_argument("--log", default="")
    ap.add_argument("--tls-cert", default="", help="serve HTTPS with this certificate (PEM) ...")
    ap.add_argument("--tls-key", default="", help="... and this key")
    args = ap.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.token = args.token
    server.log_file = args.log
    print("listening 127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
