#!/usr/bin/env python3
"""
throughput.py: drain N messages through waitlist-relay and report messages
per second per sink.  Run by relay/bench/run.sh, which sets up the cluster.
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test"))
from webhook_server import WebhookServer  # noqa: E402

RELAY = os.path.join(HERE, "..", "waitlist-relay")
SECRET = "bench-secret"


def sql(query):
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", query],
                          capture_output=True, text=True, check=True).stdout.strip()


def load(n):
    sql("DELETE FROM waitlist.outbox")
    sql("INSERT INTO waitlist.outbox (kind, channel, recipient, sku, payload, idempotency_key)"
        " SELECT 'back_in_stock', 'email', 'r' || g || '@example.test', 'SKU-1',"
        " jsonb_build_object('title', 'Mug', 'position', g), 'bench-' || g || '-' || now()"
        " FROM generate_series(1, %d) g" % n)


def drain(label, n, args, limit=600):
    load(n)
    started = time.time()
    proc = subprocess.Popen([RELAY, "--poll-interval", "200ms"] + args,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while time.time() - started < limit:
        if sql("SELECT count(*) FROM waitlist.outbox WHERE state <> 'delivered'") == "0":
            break
        time.sleep(0.1)
    elapsed = time.time() - started
    proc.terminate()
    proc.wait(30)
    done = int(sql("SELECT count(*) FROM waitlist.outbox WHERE state = 'delivered'"))
    print("%-34s %7d messages in %6.2fs  %8.0f msg/s" % (label, done, elapsed, done / elapsed), flush=True)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    server = WebhookServer(SECRET)
    drain("stdout (claim 100, ack 100)", n, ["--stdout"])
    drain("stdout --batch 1", min(n, 2000), ["--stdout", "--batch", "1"])
    drain("webhook --in-flight 1", min(n, 2000), ["--webhook", server.url(), "--secret", SECRET,
                                                  "--in-flight", "1"])
    drain("webhook --in-flight 32", min(n, 5000), ["--webhook", server.url(), "--secret", SECRET,
                                                   "--in-flight", "32"])


if __name__ == "__main__":
    main()
