#!/usr/bin/env python3
"""
test/soak/receiver.py: the soak's webhook endpoint, on 127.0.0.1 only.

    receiver.py SECRET OUTDIR [FAIL_PCT] [LOST_PCT]

Prints its port on the first line of stdout.  Every POST is checked: the
Standard Webhooks signature (HMAC-SHA256 of "id.timestamp.body" with the
secret's bytes, as the specification defines it), webhook-id equal to
Idempotency-Key, and the body's idempotency_key equal to both.  A request
that fails a check is answered 401 (the relay dead-letters it, and the soak
fails on the dead message).

The receiver dedupes on Idempotency-Key: the first 2xx for a key accepts
it, a later delivery of an accepted key is a duplicate (answered 200,
accepted nothing); two requests for one key in progress at once count
as an overlap (relays never deliver one message twice at the same time).
To force retries, FAIL_PCT percent of the requests are
answered 500 with Retry-After: 1 and accept nothing, and LOST_PCT percent
are accepted but answered 500 (a receiver that acted and whose answer was
lost): their redelivery is a duplicate.

On SIGTERM it writes OUTDIR/accepted (one accepted key per line),
OUTDIR/received (every key received, with the number of requests),
OUTDIR/requests (key, attempt, message id, start and end time, status per
request) and OUTDIR/stats.json, then exits.
"""
import base64
import hashlib
import hmac
import http.server
import json
import os
import random
import signal
import sys
import threading
import time

SECRET, OUTDIR = sys.argv[1], sys.argv[2]
FAIL_PCT = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
LOST_PCT = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
KEY = base64.b64decode(SECRET[len("whsec_"):])

lock = threading.Lock()
received = {}   # key -> requests
accepted = set()
in_progress = {}  # key -> requests being answered now
log = []          # (key, attempt, message id, start, end, status) per request
stats = {"requests": 0, "accepted": 0, "duplicates": 0, "answered_500": 0,
         "lost_answers": 0, "bad_requests": 0, "bad_reasons": {}, "overlaps": 0}


def check(headers, body):
    """None when the request is well signed and consistent, else why not."""
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature", "")
    if not msg_id or not ts or msg_id != headers.get("Idempotency-Key"):
        return "webhook-id missing or not the Idempotency-Key"
    want = base64.b64encode(hmac.new(KEY, b"%s.%s.%s" % (msg_id.encode(), ts.encode(), body),
                                     hashlib.sha256).digest()).decode()
    if not any(s.startswith("v1,") and hmac.compare_digest(s[3:], want) for s in sigs.split()):
        return "bad signature"
    try:
        doc = json.loads(body)
    except ValueError:
        return "body is not JSON"
    if doc.get("idempotency_key") != msg_id:
        return "body's idempotency_key differs"
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        why = check(self.headers, body)
        key = self.headers.get("Idempotency-Key")
        roll = random.random() * 100
        start = time.time()
        with lock:
            stats["requests"] += 1
            if why:
                stats["bad_requests"] += 1
                stats["bad_reasons"][why] = stats["bad_reasons"].get(why, 0) + 1
                status = 401
            else:
                received[key] = received.get(key, 0) + 1
                if in_progress.get(key, 0) > 0:
                    stats["overlaps"] += 1
                in_progress[key] = in_progress.get(key, 0) + 1
                if roll < FAIL_PCT:
                    stats["answered_500"] += 1
                    status = 500
                else:
                    if key in accepted:
                        stats["duplicates"] += 1
                    else:
                        accepted.add(key)
                        stats["accepted"] += 1
                    status = 200
                    if roll < FAIL_PCT + LOST_PCT:
                        stats["lost_answers"] += 1
                        status = 500
        try:
            self.send_response(status)
            if status == 500:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            self.end_headers()
        finally:
            with lock:
                if status != 401:
                    in_progress[key] -= 1
                log.append((key, self.headers.get("Waitlist-Attempt"),
                            self.headers.get("Waitlist-Message-Id"), start, time.time(), status))


def dump(*_):
    with lock:
        with open(os.path.join(OUTDIR, "accepted"), "w") as f:
            f.writelines(k + "\n" for k in sorted(accepted))
        with open(os.path.join(OUTDIR, "received"), "w") as f:
            f.writelines("%s\t%d\n" % kv for kv in sorted(received.items()))
        with open(os.path.join(OUTDIR, "requests"), "w") as f:
            f.writelines("%s\t%s\t%s\t%.6f\t%.6f\t%d\n" % r for r in log)
        with open(os.path.join(OUTDIR, "stats.json"), "w") as f:
            json.dump(dict(stats, keys=len(received)), f)
    os._exit(0)


signal.signal(signal.SIGTERM, dump)
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
httpd.daemon_threads = True
print(httpd.server_address[1], flush=True)
httpd.serve_forever()
