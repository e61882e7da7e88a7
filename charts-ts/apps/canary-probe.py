"""Synthetic traffic for a canary: requests through Traefik, counted like users' requests.

Run by the canary guard (an Argo Rollouts job metric, charts-ts/apps/probe.ts) for as long as the
rollout runs. Standard library only (the plain python image). It

1. waits until the canary Service answers directly (a ready canary pod), so it never counts the
   minute the canary pod takes to start as the canary's failure;
2. sends --rps requests a second, spread over --paths, to Traefik's websecure port with the app's
   Host (and TLS server name) and the probe header, which route them to the canary Service;
3. logs one JSON line a minute (requests by status) and stops at --duration or on SIGTERM.

Exit codes: 0 done or terminated, 2 bad arguments. A response, whatever its status, is the
canary's to be judged by the analysis, never the probe's failure.
"""
import argparse
import http.client
import json
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", required=True, help="Traefik's entry point, e.g. https://traefik.kube-system.svc.cluster.local:443")
    p.add_argument("--host", required=True, help="the app's public host name (Host header and TLS server name)")
    p.add_argument("--header", required=True, help="the probe header as Name=value")
    p.add_argument("--paths", required=True, help="comma-separated absolute paths")
    p.add_argument("--rps", required=True, type=float)
    p.add_argument("--duration", required=True, type=float, help="seconds")
    p.add_argument("--wait-url", required=True, help="URL of the canary Service; the probe starts once it answers")
    p.add_argument("--timeout", type=float, default=10.0)
    a = p.parse_args(argv)
    target = urllib.parse.urlsplit(a.target)
    if target.scheme not in ("http", "https") or not target.hostname:
        p.error(f"--target must be an http(s) URL, got {a.target!r}")
    name, sep, value = a.header.partition("=")
    if not sep or not name:
        p.error(f"--header must be Name=value, got {a.header!r}")
    paths = [x.strip() for x in a.paths.split(",") if x.strip()]
    if not paths or any(not x.startswith("/") for x in paths):
        p.error(f"--paths must be absolute paths, got {a.paths!r}")
    if not 0 < a.rps <= 200:
        p.error("--rps must be in (0, 200]")
    return a, target, (name, value), paths


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_status = {}
        self.errors = 0
        self.skipped = 0

    def add(self, key):
        with self.lock:
            if key == "error":
                self.errors += 1
            elif key == "skipped":
                self.skipped += 1
            else:
                self.by_status[key] = self.by_status.get(key, 0) + 1

    def flush(self):
        with self.lock:
            out = {"requests": sum(self.by_status.values()) + self.errors, "by_status": dict(sorted(self.by_status.items())), "errors": self.errors, "skipped": self.skipped}
            self.by_status, self.errors, self.skipped = {}, 0, 0
        return out


def connector(target, host):
    """A function returning a new connection to Traefik that presents the app's host."""
    port = target.port or (443 if target.scheme == "https" else 80)
    if target.scheme == "http":
        return lambda timeout: http.client.HTTPConnection(target.hostname, port, timeout=timeout)
    # The probe carries nothing secret and must not stop when the certificate is not issued yet:
    # no verification, but the app's host as TLS server name so Traefik picks its router.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE

    class Pinned(http.client.HTTPSConnection):
        def connect(self):
            sock = socket.create_connection((target.hostname, port), self.timeout)
            self.sock = context.wrap_socket(sock, server_hostname=host)

    return lambda timeout: Pinned(host, port, timeout=timeout, context=context)


def request(connect, host, header, path, timeout, stats):
    try:
        conn = connect(timeout)
        try:
            conn.request("GET", path, headers={"Host": host, header[0]: header[1], "User-Agent": "lms-canary-probe/1.0"})
            resp = conn.getresponse()
            resp.read()
            stats.add(str(resp.status))
        finally:
            conn.close()
    except (OSError, http.client.HTTPException):
        stats.add("error")


def answers(url, timeout):
    """Whether anything answers HTTP at url (any status: a ready pod behind the Service)."""
    u = urllib.parse.urlsplit(url)
    try:
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
        try:
            conn.request("GET", u.path or "/")
            conn.getresponse().read()
            return True
        finally:
            conn.close()
    except (OSError, http.client.HTTPException):
        return False


def main(argv):
    a, target, header, paths = parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    deadline = time.monotonic() + a.duration

    while not stop.is_set() and time.monotonic() < deadline and not answers(a.wait_url, 2.0):
        stop.wait(2.0)
    if stop.is_set() or time.monotonic() >= deadline:
        print(json.dumps({"event": "stopped before the canary answered"}), flush=True)
        return 0
    print(json.dumps({"event": "canary answers; probing", "rps": a.rps, "host": a.host, "paths": paths}), flush=True)

    stats = Stats()
    connect = connector(target, a.host)
    # Requests in flight are bounded: a canary that hangs gets timeouts, not an ever-growing pile.
    slots = threading.BoundedSemaphore(max(4, int(a.rps * a.timeout) + 1))
    start = time.monotonic()
    next_log = start + 60
    i = 0
    while not stop.is_set():
        at = start + i / a.rps
        now = time.monotonic()
        if at >= deadline:
            break
        if at > now:
            stop.wait(at - now)
            continue
        if slots.acquire(blocking=False):
            def run(path=paths[i % len(paths)]):
                try:
                    request(connect, a.host, header, path, a.timeout, stats)
                finally:
                    slots.release()
            threading.Thread(target=run, daemon=True).start()
        else:
            stats.add("skipped")
        i += 1
        if now >= next_log:
            print(json.dumps(stats.flush()), flush=True)
            next_log += 60
    print(json.dumps({"event": "done", **stats.flush()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
