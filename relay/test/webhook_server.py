"""
webhook_server.py: the loopback HTTP endpoint the relay tests deliver to.

It binds 127.0.0.1 only, records every request, verifies its Standard
Webhooks signature with the official library (verify_webhook.js, npm
standardwebhooks) and answers 401 when it does not verify, dedupes on Idempotency-Key (a repeated key is
answered 200 but not accepted twice), notices two requests for the same key
in progress at once, and answers as the running test scripts it: status,
extra headers, a delay and optionally the body, chosen per request.
"""
import base64
import http.server
import json
import os
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


class Verifier:
    """verify_webhook.js, one node process for the whole run, asked one
    request at a time: the receiver's check is the official library's."""

    def __init__(self):
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(["node", os.path.join(HERE, "verify_webhook.js")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def verify(self, secret, headers, body, now=None):
        """{"ok": bool, "error": why} for one request (body: bytes)."""
        req = {"secret": secret, "headers": headers, "body_b64": base64.b64encode(body).decode()}
        if now is not None:
            req["now"] = int(now)
        with self.lock:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("verify_webhook.js stopped")
        return json.loads(line)


verifier = Verifier()


class Recorder:
    """What one test saw.  Handlers keep the recorder they started with,
    so a slow request left over from an earlier test cannot touch this one."""

    def __init__(self, secret):
        self.secret = secret
        self.lock = threading.Lock()
        self.requests = []       # every request, in arrival order
        self.counts = {}         # key -> requests so far
        self.accepted = {}       # key -> first request answered 2xx
        self.duplicates = 0      # 2xx answers to keys already accepted
        self.in_progress = {}    # key -> requests being answered now
        self.overlaps = []       # keys requested while a request for them was open
        self.script = lambda req: (200, {}, 0.0)

    def seen(self, key):
        with self.lock:
            return self.counts.get(key, 0)

    def open_requests(self):
        with self.lock:
            return sum(self.in_progress.values())

    def by_key(self, key):
        with self.lock:
            return [r for r in self.requests if r["key"] == key]


def signature_ok(secret, headers, body):
    """Whether the official library accepts the request with secret."""
    return verifier.verify(secret, headers, body)["ok"]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_POST(self):
        rec = self.server.recorder
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        req = self.record(rec, body)
        status, headers, delay, *body_out = rec.script(req)
        if not req["sig_ok"]:
            status, headers, delay, body_out = 401, {}, 0.0, []
        time.sleep(delay)
        self.finish_record(rec, req, status)
        self.answer(status, headers, body_out[0] if body_out else None)

    def record(self, rec, body):
        key = self.headers.get("Idempotency-Key")
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        req = {"path": self.path, "key": key, "body": doc, "raw": body,
               "headers": dict(self.headers), "start": time.time(),
               "sig_ok": signature_ok(rec.secret, dict(self.headers), body)}
        with rec.lock:
            req["seen"] = rec.counts.get(key, 0)
            rec.counts[key] = req["seen"] + 1
            if rec.in_progress.get(key, 0) > 0:
                rec.overlaps.append(key)
            rec.in_progress[key] = rec.in_progress.get(key, 0) + 1
            rec.requests.append(req)
        return req

    def finish_record(self, rec, req, status):
        with rec.lock:
            rec.in_progress[req["key"]] -= 1
            req["status"] = status
            req["end"] = time.time()
            if 200 <= status < 300:
                if req["key"] in rec.accepted:
                    rec.duplicates += 1
                else:
                    rec.accepted[req["key"]] = req

    def answer(self, status, headers, text=None):
        if text is None:
            text = b"ok\n" if status < 300 else ("scripted %d\n" % status).encode()
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the relay gave up waiting (a timeout test)


class WebhookServer:
    """A threaded server on 127.0.0.1 with a fresh Recorder per test."""

    def __init__(self, secret):
        self.secret = secret
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.recorder = Recorder(secret)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def reset(self):
        self.httpd.recorder = Recorder(self.secret)
        return self.httpd.recorder

    @property
    def rec(self):
        return self.httpd.recorder
