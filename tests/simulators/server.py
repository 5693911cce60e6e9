"""A loopback WSGI server for the gateway simulators, with fault injection.

Bound to 127.0.0.1 on a port the system picks; one thread per request so that a
"timeout" fault (a reply held back after the gateway did the work) does not block
the retry that follows.
"""

import socket
import sys
import threading
import time
from collections import deque
from datetime import datetime, timedelta
from socketserver import ThreadingMixIn
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer, make_server

#: Faults a test can queue for the next API request(s).
#: ``timeout``: do the work, then hold the reply longer than the client waits;
#: ``drop``: do the work, then close the connection without a reply;
#: ``malformed``: do the work, then reply with garbage;
#: ``5xx``: reply 503 without doing anything;
#: ``result:N`` (Payflow) / ``error:N`` (NVP): answer that gateway code without doing anything;
#: ``pass``: no fault for this request (to aim a fault at a later one).
FAULTS = ("timeout", "drop", "malformed", "5xx")


class DropConnection(Exception):
    """Raised by an app to close the connection without answering."""


class Faults:
    def __init__(self):
        self._queue = deque()
        self._lock = threading.Lock()
        self.delay = 2.0

    def inject(self, *faults):
        with self._lock:
            self._queue.extend(faults)

    def take(self):
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def clear(self):
        with self._lock:
            self._queue.clear()


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _ServerHandler(ServerHandler):
    def handle_error(self):
        if isinstance(sys.exc_info()[1], DropConnection):
            self.request_handler.close_connection = True
            try:
                self.request_handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        super().handle_error()


class _RequestHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # quiet
        pass

    def handle(self):
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536 or not self.parse_request():
            return
        handler = _ServerHandler(self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True)
        handler.request_handler = self
        try:
            handler.run(self.server.get_app())
        except (BrokenPipeError, ConnectionResetError):
            pass


class LoopbackServer:
    """Serve ``app`` on 127.0.0.1 in a daemon thread: ``start()``, ``url``, ``stop()``."""

    def __init__(self, app, host="127.0.0.1", port=0):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("Simulators listen on the loopback interface only.")
        self.app = app
        self.host = host
        self.port = port
        self._server = None
        self._thread = None

    def start(self):
        self._server = make_server(
            self.host, self.port, self.app, server_class=_ThreadingWSGIServer, handler_class=_RequestHandler
        )
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=f"simulator-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def apply_fault(faults, handle, environ, start_response, *, coded):
    """Run ``handle(environ) -> (status, headers, body)`` under the next queued fault.

    ``coded(value, environ)`` builds the reply for ``result:N`` / ``error:N`` faults (without doing the work).
    """
    fault = faults.take()
    if fault == "pass":
        fault = None
    if fault == "5xx":
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"Service temporarily unavailable"]
    if fault and ":" in fault:
        status, headers, body = coded(fault.split(":", 1)[1], environ)
    else:
        status, headers, body = handle(environ)
    if fault == "timeout":
        time.sleep(faults.delay)
    elif fault == "drop":
        raise DropConnection()
    elif fault == "malformed":
        body = b"<html><body>502 Proxy Error</body></html>"
        headers = [("Content-Type", "text/html")]
    start_response(status, headers)
    return [body]


def read_body(environ):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return environ["wsgi.input"].read(length) if length else b""


class SimulatedClock:
    """A gateway's clock that tests can move forward (token expiry, settlement batches)."""

    clock_offset = timedelta(0)

    def now(self):
        return datetime.now() + self.clock_offset

    def advance(self, **delta):
        self.clock_offset += timedelta(**delta)
