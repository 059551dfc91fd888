#!/usr/bin/env python3
"""
bench.py: the relay's two performance requirements, each beside a baseline
measured in the same run, printed as one table.  Run by relay/bench/run.sh,
which builds the helpers, starts a throwaway cluster and installs the
waitlist extension (PG* variables set).

1. Latency: from the commit of a restock to the webhook receiving its
   first message, over N restocks (default 1000), one at a time, each
   allocating to the one waiting backorder line of its own SKU (one
   ready_to_ship message each).  Beside it the floor: a
   bare libpq client LISTENing on channel waitlist during the same run,
   timed on the same restocks.  Both are timed from
   the moment COMMIT is sent: the NOTIFY reaches a listener while the COMMIT
   is returning, so from its return the floor is ~0.  The webhook end is
   hook_receiver (C), which reads its clock when a request's first bytes
   arrive, as listen_floor does for a NOTIFY; the same run with receiver.js
   (Node) is shown beside it.  Target: relay p50 within 2x of the floor's.
2. Throughput: M pending messages (default 50000) drained by
   --webhook --in-flight 16 --batch 100 into a loopback receiver that
   answers 200 at once (receiver.js, Node).  Beside it the HTTP floor (a
   libcurl-multi client posting the same bodies with 16 in flight and no
   database) and the claim+ack floor (--stdout into /dev/null).
   Targets, as ratios to the lower of the two floors: unsigned and signed
   (Standard Webhooks, HMAC-SHA256) each at least 0.7; signing costs under
   10% (signed / unsigned at least 0.9).

    bench.py [latency|throughput|all] [--restocks N] [--messages M]

Everything listens on 127.0.0.1; every wait is bounded.
"""
import argparse
import atexit
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
RELAY = os.environ.get("WAITLIST_RELAY_BIN", os.path.join(HERE, "..", "waitlist-relay"))
LISTEN_FLOOR = os.path.join(HERE, "listen_floor")
RESTOCK_DRIVER = os.path.join(HERE, "restock_driver")
HTTP_FLOOR = os.path.join(HERE, "http_floor")
RECEIVER = os.path.join(HERE, "receiver.js")
HOOK_RECEIVER = os.path.join(HERE, "hook_receiver")
SECRET = "whsec_MfKQ9r8GKYqrTRhBGbWvZjJ2kMXkAPjUgPnX1ezbRpI="  # Standard Webhooks: whsec_ + base64 of 32 bytes
EXTRA_ARGS = shlex.split(os.environ.get("WAITLIST_RELAY_BENCH_ARGS", ""))  # for experiments
LOGDIR = tempfile.mkdtemp(prefix="waitlist-relay-bench.")
rows = []  # the table: (measurement, relay, baseline, ratio, target, verdict)
started = []  # every process started, stopped at exit even when the bench fails


@atexit.register
def stop_leftovers():
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
notes = []  # printed under the table


def sql(query, timeout=300):
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", query],
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        sys.exit("bench: psql failed: %s\n%s" % (query[:200], out.stderr))
    return out.stdout.strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    return urllib.request.urlopen(url, timeout=5).read().decode()


def wait_until(what, pred, limit, every=0.05):
    deadline = time.time() + limit
    while time.time() < deadline:
        if pred():
            return
        time.sleep(every)
    sys.exit("bench: timed out after %ss waiting for %s (logs in %s)" % (limit, what, LOGDIR))


class Receiver:
    """receiver.js (or another command); its stdout (a pipe) carries the port, then --log lines."""

    def __init__(self, *args, command=("node", RECEIVER)):
        self.proc = subprocess.Popen(list(command) + list(args), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        started.append(self.proc)
        self.port = int(self.proc.stdout.readline())
        self.url = "http://127.0.0.1:%d/hook" % self.port

    def counts(self):
        return json.loads(get("http://127.0.0.1:%d/count" % self.port))

    def reset(self):
        get("http://127.0.0.1:%d/reset" % self.port)

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(10)


class Relay:
    """waitlist-relay with --metrics, its stderr in LOGDIR."""

    def __init__(self, name, args, stdout=subprocess.DEVNULL):
        self.metrics = free_port()
        self.log = os.path.join(LOGDIR, name + ".log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([RELAY, "--metrics", str(self.metrics)] + args + EXTRA_ARGS,
                                         stdout=stdout, stderr=log)
        started.append(self.proc)
        wait_until("the relay to connect", lambda: "connected" in open(self.log).read(), 15)

    def delivered(self):
        for line in get("http://127.0.0.1:%d/metrics" % self.metrics).splitlines():
            if line.startswith("waitlist_relay_delivered_total "):
                return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.terminate()
        if self.proc.wait(30) != 0:
            sys.exit("bench: the relay exited with %s (log %s)" % (self.proc.returncode, self.log))


def ratio_text(x, base):
    return "%.2fx" % (x / base) if base >= 10 else "n/a (floor < 10 us)"


def verdict(ok):
    return "PASS" if ok else "FAIL"


# ------------------------------------------------------------------ latency

def expand_and_clear():
    """Expand every batch, then empty the outbox (setup messages, floor messages)."""
    for _ in range(100):
        if sql("SELECT waitlist.tick()") == "0":
            break
    sql("DELETE FROM waitlist.outbox")


def setup_latency(n):
    for tag in ("F", "R", "A", "S", "N"):
        sql("SELECT count(waitlist.upsert_sku('LAT-%s-' || g, title => 'Bench mug')) FROM generate_series(1, %d) g"
            % (tag, n))
        sql("SELECT count(waitlist.place_backorder('ORD-%s-' || g, 'LAT-%s-' || g, 1, 'Bench',"
            " 'b' || g || '@example.test')) FROM generate_series(1, %d) g" % (tag, tag, n))
    expand_and_clear()
    sql("VACUUM ANALYZE")


def start_floor():
    """listen_floor, LISTENing: its stdout carries one line per notification."""
    floor = subprocess.Popen([LISTEN_FLOOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    started.append(floor)
    if floor.stdout.readline().strip() != b"ready":
        sys.exit("bench: listen_floor did not start")
    return floor


def drive(prefix, listener, n, floor):
    """restock_driver reading the webhook receiver's arrival lines and, on
    another descriptor, listen_floor's: one JSON summary of both."""
    fd = floor.stdout.fileno()
    out = subprocess.run([RESTOCK_DRIVER, str(n), prefix, str(fd)], stdin=listener.stdout,
                         pass_fds=(fd,), capture_output=True, text=True, timeout=n * 0.2 + 60)
    if out.returncode != 0:
        sys.exit("bench: restock_driver %s failed:\n%s" % (prefix, out.stderr))
    return json.loads(out.stdout)


def relay_latency(name, prefix, n, extra, node=False):
    receiver = Receiver("--log") if node else Receiver(command=(HOOK_RECEIVER,))
    relay = Relay(name, ["--webhook", receiver.url] + extra)
    floor = start_floor()
    out = drive(prefix, receiver.proc, n, floor)
    floor.stdin.close()
    floor.wait(10)
    relay.stop()
    counts = receiver.counts()
    receiver.stop()
    delivered = int(sql("SELECT count(*) FROM waitlist.outbox WHERE sku LIKE '%s%%' AND state = 'delivered'"
                        % prefix))
    if delivered != n:
        sys.exit("bench: %s: %d of %d messages acked" % (name, delivered, n))
    print("  %s: the receiver saw %d TCP connection(s) for %d requests"
          % (name, counts["connections"], counts["posts"]))
    return out


def latency(n):
    print("latency: %d restocks, each one ready_to_ship message" % n, flush=True)
    setup_latency(n)

    r = relay_latency("latency", "LAT-R-", n, [])
    a = relay_latency("latency-async", "LAT-A-", n, ["--async-commit"])
    s = relay_latency("latency-sync-claims", "LAT-S-", n, ["--sync-claims"])
    j = relay_latency("latency-node", "LAT-N-", n, [], node=True)
    for key, label in (("sent", "from COMMIT sent"), ("commit", "from COMMIT's return")):
        print("  %-21s relay p50 %7.0f us p99 %7.0f us | LISTEN floor p50 %7.0f us p99 %7.0f us"
              % (label, r[key + "_p50_us"], r[key + "_p99_us"],
                 r["floor_" + key + "_p50_us"], r["floor_" + key + "_p99_us"]))
    for label, x in (("relay --async-commit", a), ("relay --sync-claims", s),
                     ("relay, node receiver", j)):
        print("  %-21s %s p50 %7.0f us p99 %7.0f us | LISTEN floor p50 %7.0f us p99 %7.0f us"
              % ("from COMMIT sent", label, x["sent_p50_us"], x["sent_p99_us"],
                 x["floor_sent_p50_us"], x["floor_sent_p99_us"]))
    def row(label, x, stat, target="-", result="info"):
        ours, floor = x[stat + "_us"], x["floor_" + stat + "_us"]
        rows.append((label, "%.0f" % ours, "%.0f (LISTEN)" % floor, ratio_text(ours, floor),
                     target, result))
    row("restock -> webhook p50 (us)", r, "sent_p50", "<= 2x floor",
        verdict(r["sent_p50_us"] <= 2 * r["floor_sent_p50_us"]))
    row("restock -> webhook p99 (us)", r, "sent_p99")
    row("  p50 from COMMIT's return (us)", r, "commit_p50")
    row("  p50 with --async-commit (us)", a, "sent_p50")
    row("  p50 with --sync-claims (us)", s, "sent_p50")
    row("  p50, node receiver (us)", j, "sent_p50")
    notes.append("Latencies are timed from the moment COMMIT is sent; from its return the LISTEN floor"
                 " is ~0, because the NOTIFY reaches a listener while the COMMIT returns. The floor"
                 " listens during each relay run and is timed on the same restocks.")


# --------------------------------------------------------------- throughput

BODY_SQL = ("jsonb_build_object('order_ref', 'ORD-' || g, 'line_id', g, 'qty', 1, 'allocated_total', 1,"
            " 'title', 'Bench mug', 'customer', 'Bench', 'expected_ship_date', '2026-12-05')")


def load(m):
    sql("DELETE FROM waitlist.outbox")
    sql("INSERT INTO waitlist.outbox (kind, channel, recipient, sku, payload, idempotency_key)"
        " SELECT 'ready_to_ship', 'email', 'b' || g || '@example.test', 'SKU-' || g, %s,"
        " 'bench-' || g || '-' || extract(epoch FROM now())" " FROM generate_series(1, %d) g" % (BODY_SQL, m))
    sql("VACUUM ANALYZE waitlist.outbox")
    sql("CHECKPOINT")  # so no run pays for the previous runs' checkpoint


def drain(name, m, args, done, stdout=subprocess.DEVNULL, limit=240):
    """Start a relay on m loaded messages; seconds until done(relay) holds."""
    load(m)
    started = time.time()
    relay = Relay(name, args, stdout=stdout)
    wait_until(name + " to drain", lambda: done(relay), limit, every=0.02)
    elapsed = time.time() - started
    wait_until(name + " acks", lambda: relay.delivered() == m, 30)
    relay.stop()
    left = int(sql("SELECT count(*) FROM waitlist.outbox WHERE state <> 'delivered'"))
    if left:
        sys.exit("bench: %s left %d messages undelivered" % (name, left))
    return elapsed


def webhook_run(name, receiver, m, extra):
    receiver.reset()
    secs = drain(name, m, ["--webhook", receiver.url, "--in-flight", "16", "--batch", "100"] + extra,
                 lambda relay: receiver.counts()["posts"] >= m)
    c = receiver.counts()
    if c["posts"] != m:
        sys.exit("bench: %s: the receiver saw %d requests for %d messages" % (name, c["posts"], m))
    return m / secs, c


def throughput(m):
    print("throughput: %d messages per run" % m, flush=True)
    receiver = Receiver("--secret", SECRET)

    stdout_rate = m / drain("stdout", m, ["--stdout", "--batch", "100"],
                            lambda relay: relay.delivered() >= m)
    print("  claim+ack --stdout >/dev/null        %8.0f msg/s" % stdout_rate, flush=True)

    body = os.path.join(LOGDIR, "body.json")
    sample = sql("SELECT json_build_object('id', 1, 'kind', 'ready_to_ship', 'channel', 'email',"
                 " 'recipient', 'b1@example.test', 'sku', 'SKU-1', 'payload', %s,"
                 " 'idempotency_key', 'bench-1-1763800000', 'attempts', 1,"
                 " 'created_at', now()) FROM generate_series(1, 1) g" % BODY_SQL)
    with open(body, "w") as f:
        f.write(sample)
    receiver.reset()
    out = subprocess.run([HTTP_FLOOR, receiver.url, str(m), "16", body],
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        sys.exit("bench: http_floor failed: %s %s" % (out.stdout, out.stderr))
    http_rate = json.loads(out.stdout)["per_second"]
    c = receiver.counts()
    print("  HTTP floor (libcurl multi, 16)       %8.0f req/s  (%d connections)" % (http_rate, c["connections"]),
          flush=True)

    plain, c = webhook_run("webhook", receiver, m, [])
    print("  relay --webhook -n 16 --batch 100    %8.0f msg/s  (%d connections)" % (plain, c["connections"]),
          flush=True)
    fast, c = webhook_run("webhook-async", receiver, m, ["--async-commit"])
    print("  same with --async-commit              %8.0f msg/s  (%d connections)" % (fast, c["connections"]),
          flush=True)
    signed, c = webhook_run("webhook-signed", receiver, m, ["--secret", SECRET])
    print("  same with --secret (HMAC-SHA256)     %8.0f msg/s  (%d connections, %d signed, %d bad signatures"
          " in the sample checked)" % (signed, c["connections"], c["signed"], c["bad_signatures"]), flush=True)
    receiver.stop()
    if c["signed"] != m or c["bad_signatures"]:
        sys.exit("bench: signatures missing or wrong")

    # The floor is the lower of the two measured beside the relay: an
    # HTTP client with no database, and the relay's own claim+ack loop
    # with a sink that costs nothing.
    floor = min(http_rate, stdout_rate)
    floor_text = "%.0f (%s)" % (floor, "HTTP floor" if http_rate <= stdout_rate else "claim+ack floor")
    rows.append(("webhook msg/s, 16 in flight", "%.0f" % plain, floor_text,
                 "%.2f" % (plain / floor), ">= 0.70 x floor", verdict(plain >= 0.7 * floor)))
    rows.append(("  floor: HTTP, libcurl multi 16", "%.0f" % plain, "%.0f (HTTP floor)" % http_rate,
                 "%.2f" % (plain / http_rate), "-", "info"))
    rows.append(("  floor: claim+ack, --stdout", "%.0f" % plain, "%.0f (--stdout)" % stdout_rate,
                 "%.2f" % (plain / stdout_rate), "-", "info"))
    rows.append(("  same with --async-commit", "%.0f" % fast, floor_text,
                 "%.2f" % (fast / floor), "-", "info"))
    rows.append(("webhook msg/s signed", "%.0f" % signed, floor_text,
                 "%.2f" % (signed / floor), ">= 0.70 x floor", verdict(signed >= 0.7 * floor)))
    rows.append(("signing cost: signed / unsigned", "%.0f" % signed, "%.0f (unsigned)" % plain,
                 "%.2f" % (signed / plain), ">= 0.90", verdict(signed >= 0.9 * plain)))


def table():
    head = ("measurement", "relay", "baseline", "ratio", "target", "")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(str(v).ljust(w) for v, w in zip(r, widths)) + " |"
    print()
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    for n in notes:
        print("\n" + n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", nargs="?", default="all", choices=["all", "latency", "throughput"])
    ap.add_argument("--restocks", type=int, default=1000)
    ap.add_argument("--messages", type=int, default=50000)
    a = ap.parse_args()
    if a.what in ("all", "latency"):
        latency(a.restocks)
    if a.what in ("all", "throughput"):
        throughput(a.messages)
    table()
    print("\nrelay logs: %s" % LOGDIR)
    return 0 if all(r[5] != "FAIL" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
