"""The webhook receiver with N silent connections open: its threads, its memory, its answers.

A child process opens ``--silent`` loopback connections to a ``WebhookReceiver`` running in
this process (half send a header block announcing a body that never comes, half stop in the
middle of their headers) and holds them. Meanwhile this process counts its threads
(``threading.active_count()``) and its resident set (``VmRSS``, Linux), and times
``--requests`` ordinary POSTs. Then it waits for the receiver to close the silent ones
(``--request-timeout``). ``--stdlib`` runs the same against the standard library's
``ThreadingHTTPServer`` (the receiver before issue 13), which has no timeout: the silent
connections are let go by the child instead.

    .venv/bin/python benchmarks/webhook_abuse.py [--silent 500] [--request-timeout 2] [--stdlib]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import socket
import statistics
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from multiprocessing.connection import Connection
from typing import Any, cast

import httpx

from backmarket_shipstation._cli_webhook import WEBHOOK_PATH, WebhookReceiver
from backmarket_shipstation._serving import ServerLimits
from backmarket_shipstation.sync.engine import SyncEngine

BODY = b'{"resource_url": "https://ssapi.shipstation.com/orders", "resource_type": "ORDER_NOTIFY"}'


class _CountingStdlib(ThreadingHTTPServer):
    """The stdlib server, counting the tracebacks it would print instead of printing them."""

    daemon_threads = True
    tracebacks = 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.tracebacks += 1


class _Account:
    def __init__(self, account: str) -> None:
        self.account = account


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def hold(host: str, port: int, count: int, pipe: Connection) -> None:
    """The child: open ``count`` silent connections, report, and wait to be told to go."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 100)), hard))
    held = []
    for n in range(count):
        sock = socket.create_connection((host, port))
        if n % 2:
            sock.sendall(f"POST {WEBHOOK_PATH} HTTP/1.1\r\nContent-Length: 90\r\n\r\n".encode())
        else:
            sock.sendall(f"POST {WEBHOOK_PATH} HTTP/1.1\r\nX-Slow: ".encode())
        held.append(sock)
    pipe.send(len(held))
    pipe.recv()  # "count closed": how many the server closed by now
    closed = 0
    for sock in held:
        sock.setblocking(False)
        try:
            sock.recv(4096)  # the server only writes (408) when it closes
        except BlockingIOError:
            continue  # still open
        except OSError:
            pass
        closed += 1
    pipe.send(closed)
    pipe.recv()
    for sock in held:
        sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--silent", type=int, default=500)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--request-timeout", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--stdlib", action="store_true", help="ThreadingHTTPServer instead")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.silent + 200)), hard))

    threads_idle = threading.active_count()
    rss_idle = rss_mb()
    engines = cast("list[SyncEngine]", [_Account("shop")])
    limits = ServerLimits(
        request_timeout=args.request_timeout,
        max_connections=args.silent + 100,
        workers=args.workers,
    )
    receiver = WebhookReceiver(engines, port=0, limits=limits)
    if args.stdlib:
        stdlib = _CountingStdlib(("127.0.0.1", 0), cast("Any", receiver)._handler_class())
        threading.Thread(target=stdlib.serve_forever, daemon=True).start()
        host, port = "127.0.0.1", stdlib.server_address[1]
        url = f"http://{host}:{port}{WEBHOOK_PATH}"
    else:
        receiver.start()
        host, port, url = receiver.host, receiver.port, receiver.url()
    threads_serving = threading.active_count()
    rss_serving = rss_mb()

    with httpx.Client(timeout=60) as client:
        client.post(url, content=BODY)  # warm up
        ours, theirs = multiprocessing.Pipe()
        child = multiprocessing.Process(target=hold, args=(host, port, args.silent, theirs))
        started = time.perf_counter()
        child.start()
        opened = ours.recv()
        opening = time.perf_counter() - started
        if not args.stdlib:
            while receiver.open_connections < opened:
                time.sleep(0.01)
        time.sleep(0.2)  # let the stdlib server start its threads
        threads_held = threading.active_count()
        rss_held = rss_mb()
        timings = []
        statuses = set()
        for _ in range(args.requests):
            began = time.perf_counter()
            statuses.add(client.post(url, content=BODY).status_code)
            timings.append(time.perf_counter() - began)
        threads_after = threading.active_count()
        if args.stdlib:
            ours.send("count")
            closed_by_server = ours.recv()
            waited = None
        else:
            began = time.perf_counter()
            while receiver.open_connections > 0 and time.perf_counter() - began < 120:
                time.sleep(0.01)
            waited = time.perf_counter() - started
            ours.send("count")
            closed_by_server = ours.recv()
        ours.send("go")
        child.join()
        if args.stdlib:
            time.sleep(1.0)  # let the 500 threads see their clients go

    server = "ThreadingHTTPServer (stdlib)" if args.stdlib else "BoundedHTTPServer"
    print(f"python {sys.version.split()[0]}, {server}, {args.silent} silent connections")
    print(
        f"threads    idle {threads_idle}, serving {threads_serving}, "
        f"{args.silent} held {threads_held}, after {args.requests} requests {threads_after}"
    )
    print(
        f"memory     idle {rss_idle:.1f} MB, serving {rss_serving:.1f} MB, "
        f"{args.silent} held {rss_held:.1f} MB (VmRSS)"
    )
    print(f"opening    {opening:.2f} s for {opened} connections")
    print(
        f"answers    {args.requests} POSTs while held: statuses {sorted(statuses)}, "
        f"median {statistics.median(timings) * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms"
    )
    if waited is None:
        print(
            f"closing    the server closed {closed_by_server} of {opened} (no timeout); when"
            f" the client let them go it printed {stdlib.tracebacks} tracebacks"
        )
    else:
        print(
            f"closing    the server closed {closed_by_server} of {opened}, all gone "
            f"{waited:.2f} s after the first connect (request timeout {args.request_timeout:g} s)"
        )
    if not args.stdlib:
        receiver.stop()


if __name__ == "__main__":
    main()
