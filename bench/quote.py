"""Quote API throughput against its floor, a bare Flask JSON echo, served alike.

Both apps run under gunicorn with 2 sync workers on loopback, loaded alike by
`wrk` when it is installed (`wrk -t1 -c8`, the issue's measurement; a Lua script
posts the bodies round-robin), else by a load generator in this script (threads,
one http.client connection each; sync workers close the connection after every
response, so each request reconnects, as under wrk), in short rounds, the floor
and the quote API in turn, so that the load of a shared machine falls on both
alike. Prints requests/s for the floor and the quote API, each with the same
1-use and 25-use bodies, and the median ratio of the rounds to the floor.
Beside them, CPU time per request: each server's workers, split into the time
inside the app (the WSGI call, what an in-process measurement sees) and
gunicorn's own work around it, and the load generator's; on a shared machine
these move less than requests/s. Asserts nothing; `make bench` runs it.

Options via environment: BENCH_SECONDS (per target, split over the rounds,
default 6), BENCH_ROUNDS (default 3), BENCH_CONNECTIONS (default 8),
BENCH_MAX_REQUESTS (per round, default 50000, Python client only), BENCH_CLIENT
(`wrk` or `python`; default wrk when it is on the PATH).

BENCH_INSTRUCTIONS=N counts instead, with valgrind's callgrind, the instructions
per request of one gunicorn sync worker serving N sequential requests (after
120 unmeasured ones), split into the app (the WSGI call) and gunicorn's work
around it, for the echo and the quote: figures that do not move with the
machine's load, where CPU times on a shared machine do (several minutes).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SEED = 1627
SECONDS = float(os.environ.get("BENCH_SECONDS", "6"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
MAX_REQUESTS = int(os.environ.get("BENCH_MAX_REQUESTS", "50000"))
WORKERS = 2
GOAL = 0.6
WRK = shutil.which("wrk")
CLIENT = os.environ.get("BENCH_CLIENT", "wrk" if WRK else "python")
INSTRUCTIONS = int(os.environ.get("BENCH_INSTRUCTIONS", "0"))

ECHO_APP = """
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/echo")
def echo():
    return jsonify(request.get_json())
"""


@dataclass(frozen=True)
class Result:
    requests: int
    errors: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def gunicorn(app: str, directory: Path, env: dict[str, str]) -> Iterator[Server]:
    """A gunicorn server with 2 sync workers on loopback; yields it once every
    worker has loaded the app.

    The master listens at once, while each worker still imports its app (the
    service takes seconds on a busy machine, the echo a fraction of one): timing
    from the first accepted connection charged that start-up to the first target
    measured (the 1-use quote, whose figure it cut by up to half).
    """
    port = free_port()
    ready = Path(tempfile.mkdtemp(prefix="bench-quote-ready-"))
    hooks = ready / "gunicorn_hooks.py"
    hooks.write_text(READY_HOOK.format(ready=str(ready)))
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(hooks),
            "--workers",
            str(WORKERS),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--chdir",
            str(directory),
            "--log-level",
            "warning",
            app,
        ],
        env={**os.environ, **env},
    )
    try:
        wait_for(ready, server)
        yield Server(port, ready)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(ready, ignore_errors=True)


# A gunicorn config file: each worker leaves a file once its app is loaded, and
# counts its requests and the CPU time spent inside the app (the WSGI call) and
# in all (gunicorn's own work included); on SIGWINCH it writes the running
# totals to `cpu-<pid>` (a worker has no other use for the signal).
READY_HOOK = """
import os
import pathlib
import signal
import time


def post_worker_init(worker):
    app = worker.wsgi
    totals = [0, 0.0]  # requests, CPU seconds inside the app

    def counted(environ, start_response):
        started = time.process_time()
        try:
            return app(environ, start_response)
        finally:
            totals[0] += 1
            totals[1] += time.process_time() - started

    def write_totals(signum, frame):
        line = f"{{totals[0]}} {{totals[1]}} {{time.process_time()}}"
        pathlib.Path({ready!r}, f"cpu-{{worker.pid}}").write_text(line)

    worker.wsgi = counted
    signal.signal(signal.SIGWINCH, write_totals)
    pathlib.Path({ready!r}, f"worker-{{worker.pid}}").touch()
"""


@dataclass(frozen=True)
class Cpu:
    """Running totals of a server's workers: requests, and CPU seconds inside
    the app and in all."""

    requests: int = 0
    app: float = 0.0
    worker: float = 0.0

    def __sub__(self, earlier: Cpu) -> Cpu:
        return Cpu(
            self.requests - earlier.requests,
            self.app - earlier.app,
            self.worker - earlier.worker,
        )

    def __add__(self, other: Cpu) -> Cpu:
        return Cpu(
            self.requests + other.requests,
            self.app + other.app,
            self.worker + other.worker,
        )


@dataclass(frozen=True)
class Server:
    port: int
    ready: Path

    def cpu(self) -> Cpu:
        """Asks every worker for its totals and adds them up."""
        workers = [int(path.name.removeprefix("worker-")) for path in self.ready.glob("worker-*")]
        for stale in self.ready.glob("cpu-*"):
            stale.unlink()
        for pid in workers:
            os.kill(pid, signal.SIGWINCH)
        deadline = time.monotonic() + 10
        answers = [self.ready / f"cpu-{pid}" for pid in workers]
        while not all(path.exists() and path.read_text() for path in answers):
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn's workers did not report their CPU time")
            time.sleep(0.01)
        found = Cpu()
        for path in answers:
            requests, app, worker = path.read_text().split()
            found = found + Cpu(int(requests), float(app), float(worker))
        return found


def wait_for(
    ready: Path, server: subprocess.Popen[bytes], workers: int = WORKERS, seconds: int = 120
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        if len(list(ready.glob("worker-*"))) >= workers:
            return
        time.sleep(0.1)
    raise SystemExit(f"gunicorn's workers did not load the app within {seconds} s")


# A gunicorn config file for counting instructions: the worker calls the app
# through `operator.call`, a C function nothing else on the path calls, so
# callgrind's inclusive count of `_operator_call` is the app's share.
COUNT_HOOK = """
import operator
import pathlib


def post_worker_init(worker):
    app = worker.wsgi
    worker.wsgi = lambda environ, start_response: operator.call(app, environ, start_response)
    pathlib.Path({ready!r}, f"worker-{{worker.pid}}").touch()
"""


def count_instructions(
    app: str, directory: Path, env: dict[str, str], path: str, bodies: list[bytes]
) -> tuple[float, float]:
    """Instructions per request (the worker's, the app's) of one gunicorn sync
    worker under callgrind, over INSTRUCTIONS sequential requests; the worker
    is warmed uninstrumented, then instrumented and its counts zeroed."""
    port = free_port()
    ready = Path(tempfile.mkdtemp(prefix="bench-quote-callgrind-"))
    hooks = ready / "gunicorn_hooks.py"
    hooks.write_text(COUNT_HOOK.format(ready=str(ready)))
    command = [
        *("valgrind", "--tool=callgrind", "--trace-children=yes", "--instr-atstart=no"),
        f"--callgrind-out-file={ready}/callgrind.%p",
        *(sys.executable, "-m", "gunicorn", "--config", str(hooks), "--workers", "1"),
        *("--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--chdir", str(directory)),
        *("--log-level", "warning", "--timeout", "600", app),
    ]
    server = subprocess.Popen(command, env={**os.environ, **env}, stderr=subprocess.DEVNULL)

    def post(turn: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        connection.request("POST", path, body=bodies[turn % len(bodies)], headers=JSON)
        response = connection.getresponse()
        response.read()
        connection.close()
        if response.status != 200:
            raise SystemExit(f"{path} answered {response.status}")

    def control(*arguments: str) -> None:
        subprocess.run(["callgrind_control", *arguments, str(pid)], check=True, capture_output=True)

    try:
        wait_for(ready, server, workers=1, seconds=900)
        pid = int(next(ready.glob("worker-*")).name.removeprefix("worker-"))
        for turn in range(100):
            post(turn)
        control("-i", "on")
        for turn in range(20):  # the instrumented code translated anew
            post(turn)
        control("-z")
        for turn in range(INSTRUCTIONS):
            post(turn)
        control("-d")
        dump, total = None, None
        deadline = time.monotonic() + 60
        while total is None and time.monotonic() < deadline:  # the dump may still be written
            time.sleep(0.5)
            dumps = sorted(ready.glob(f"callgrind.{pid}.*"), key=os.path.getmtime)
            if dumps:
                dump = dumps[-1]
                total = re.search(r"^(?:summary|totals): (\d+)", dump.read_text(), re.MULTILINE)
        if dump is None or total is None:
            raise SystemExit("callgrind wrote no counts")
        annotated = subprocess.run(
            ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(dump)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        inside = re.search(r"^\s*([\d,]+) .*:_operator_call ", annotated, re.MULTILINE)
        if inside is None:
            raise SystemExit(f"callgrind's output names no _operator_call: {dump}")
        worker = int(total.group(1)) / INSTRUCTIONS
        return worker, int(inside.group(1).replace(",", "")) / INSTRUCTIONS
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(ready, ignore_errors=True)


JSON = {"Content-Type": "application/json"}


def load(port: int, path: str, bodies: list[bytes], seconds: float = SECONDS) -> Result:
    """POST `bodies` round-robin from CONNECTIONS clients for `seconds`."""
    if CLIENT == "wrk":
        return load_with_wrk(port, path, bodies, seconds)
    return load_with_threads(port, path, bodies, seconds)


def load_with_threads(port: int, path: str, bodies: list[bytes], seconds: float) -> Result:
    """POST `bodies` round-robin from CONNECTIONS threads for `seconds` (or MAX_REQUESTS)."""
    done = [0] * CONNECTIONS
    failed = [0] * CONNECTIONS
    budget = threading.Semaphore(MAX_REQUESTS)
    stop = threading.Event()
    headers = {"Content-Type": "application/json"}

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        turn = index
        while not stop.is_set() and budget.acquire(blocking=False):
            connection.request("POST", path, body=bodies[turn % len(bodies)], headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                done[index] += 1
            else:
                failed[index] += 1
            turn += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CONNECTIONS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return Result(sum(done), sum(failed), time.perf_counter() - started)


# wrk posts the bodies in turn; each is a Lua long string (JSON never holds "]==]").
WRK_SCRIPT = """
bodies = {%s}
counter = 0
request = function()
  counter = counter + 1
  local body = bodies[(counter %% #bodies) + 1]
  return wrk.format("POST", "%s", {["Content-Type"] = "application/json"}, body)
end
"""


def load_with_wrk(port: int, path: str, bodies: list[bytes], seconds: float) -> Result:
    """`wrk -t1 -cCONNECTIONS` for `seconds`, posting `bodies` round-robin."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        listed = ",".join(f"[==[{body.decode()}]==]" for body in bodies)
        script.write(WRK_SCRIPT % (listed, path))
    try:
        command = [WRK or "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s"]
        output = subprocess.run(
            [*command, "-s", script.name, f"http://127.0.0.1:{port}{path}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(script.name)
    done = re.search(r"(\d+) requests in ([\d.]+)(m?s)", output)
    if done is None:
        raise SystemExit(f"wrk printed no result:\n{output}")
    total = int(done.group(1))
    elapsed = float(done.group(2)) / (1000 if done.group(3) == "ms" else 1)
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = int(failed.group(1)) if failed else 0
    socket_errors = re.search(r"Socket errors: (.*)", output)
    if socket_errors:
        print(f"  wrk socket errors: {socket_errors.group(1)}", flush=True)
    return Result(total - errors, errors, elapsed)


def quote_bodies(uses: int, rng: random.Random, count: int = 32) -> list[bytes]:
    """Synthetic quote requests priced by the sample card (fixed seed)."""
    bodies = []
    for _ in range(count):
        body = {
            "organization_type": "commercial",
            "term": {"start": "2027-01-01", "end": "2027-06-30"},
            "uses": [
                {
                    "use": "distribution",
                    "product_type": "saas",
                    "user_type": "provider",
                    "quantity": {"end_users": rng.randint(1, 50_000)},
                    "description": f"Invented product {index}",
                }
                for index in range(uses)
            ],
        }
        bodies.append(json.dumps(body).encode())
    return bodies


def prepare_database(url: str) -> None:
    from harness import bench_app

    from licensing.ratecards.cli import load_samples

    app = bench_app(url, environment="development", quote_rate_limit="120 per minute")
    with app.app_context():
        load_samples()
    app.extensions["licensing.db"].engine.dispose()


def total(results: list[Result]) -> Result:
    return Result(
        sum(r.requests for r in results),
        sum(r.errors for r in results),
        sum(r.seconds for r in results),
    )


def report_cpu(label: str, cpu: Cpu, load_generator: float) -> None:
    """CPU time per request: the server's workers (inside the app, and gunicorn
    around it) and the load generator (wrk, or this script's threads)."""
    if not cpu.requests:
        return
    per = 1e6 / cpu.requests
    print(
        f"  {label:<36} CPU per request: worker {cpu.worker * per:4.0f} us "
        f"(app {cpu.app * per:4.0f}, around it {(cpu.worker - cpu.app) * per:4.0f}), "
        f"load generator {load_generator * per:3.0f} us",
        flush=True,
    )


def children_cpu() -> float:
    """CPU seconds of this process's waited-for children (wrk) and its own threads."""
    times = os.times()
    return times.children_user + times.children_system


def report(label: str, results: list[Result], floors: list[Result] | None) -> None:
    """The rate over every round; against the floor, the median of the ratios of
    the rounds (each quote round ran right after its floor round)."""
    result = total(results)
    line = f"{label:<38} {result.per_second:8,.0f} requests/s"
    line += f"  ({result.requests} in {result.seconds:.1f} s"
    line += f", {result.errors} errors)" if result.errors else ")"
    if floors is not None:
        ratios = [r.per_second / f.per_second for r, f in zip(results, floors, strict=True)]
        shown = ", ".join(f"{ratio:.2f}" for ratio in ratios)
        line += f"  ratio {statistics.median(ratios):.2f}x of the floor (rounds: {shown};"
        line += f" goal >= {GOAL}x)"
    print(line, flush=True)


def report_instructions(
    where: Path, repository: Path, env: dict[str, str], bodies: dict[int, list[bytes]]
) -> None:
    print(
        f"instructions per request (callgrind): 1 gunicorn sync worker, {INSTRUCTIONS} "
        "sequential requests, SQLite",
        flush=True,
    )
    for uses, sent in bodies.items():
        what = "1 use" if uses == 1 else f"{uses} uses"
        echo = count_instructions("echo_app:app", where, {}, "/echo", sent)
        quote = count_instructions("wsgi:app", repository, env, "/api/v1/quotes", sent)
        for label, (worker, app) in (("echo", echo), ("quote", quote)):
            line = f"  {label + ', ' + what + ':':<16} worker {worker / 1000:7,.1f}K"
            line += f" (app {app / 1000:,.1f}K, around it {(worker - app) / 1000:,.1f}K)"
            if label == "quote":
                line += f"  ratio {echo[0] / worker:.2f}x of the echo's"
            print(line, flush=True)


def main() -> None:
    rng = random.Random(SEED)
    repository = Path(__file__).resolve().parents[1]
    if not INSTRUCTIONS:
        print(
            f"gunicorn {WORKERS} sync workers, {CONNECTIONS} connections, {ROUNDS} rounds of "
            f"{SECONDS / ROUNDS:g} s per target, floor and quote in turn, SQLite, client: {CLIENT}",
            flush=True,
        )
    with tempfile.TemporaryDirectory() as directory:
        where = Path(directory)
        (where / "echo_app.py").write_text(ECHO_APP)
        url = f"sqlite:///{where / 'bench.db'}"
        prepare_database(url)
        env = {
            "DATABASE_URL": url,
            "SECRET_KEY": secrets.token_hex(16),
            "AUDIT_HMAC_KEY": secrets.token_hex(16),
            "QUOTE_RATE_LIMIT": "off",
            "LOG_LEVEL": "WARNING",
        }
        bodies = {1: quote_bodies(1, rng), 25: quote_bodies(25, rng)}
        if INSTRUCTIONS:
            report_instructions(where, repository, env, bodies)
            return
        # The floor echoes the same bodies: parsing and sending 25 uses is not free.
        # Both servers run side by side (an idle worker costs nothing) and are
        # loaded in turn, so a change in the machine's load falls on both alike.
        with (
            gunicorn("echo_app:app", where, {}) as echo,
            gunicorn("wsgi:app", repository, env) as service,
        ):
            targets = {"floor": (echo, "/echo"), "quote": (service, "/api/v1/quotes")}
            for server, path in targets.values():
                load(server.port, path, bodies[1], seconds=1)  # warm-up, not counted
            for uses, sent in bodies.items():
                runs: dict[str, list[Result]] = {"floor": [], "quote": []}
                cpu = {"floor": Cpu(), "quote": Cpu()}
                generator = {"floor": 0.0, "quote": 0.0}
                for _ in range(ROUNDS):
                    for name, (server, path) in targets.items():
                        before = server.cpu()
                        spent = children_cpu() + time.process_time()
                        runs[name].append(load(server.port, path, sent, seconds=SECONDS / ROUNDS))
                        generator[name] += children_cpu() + time.process_time() - spent
                        cpu[name] = cpu[name] + (server.cpu() - before)
                what = "1 use" if uses == 1 else f"{uses} uses"
                report(f"floor: bare Flask JSON echo, {what}", runs["floor"], None)
                report(f"POST /api/v1/quotes, {what}", runs["quote"], runs["floor"])
                for name, label in (("floor", "echo"), ("quote", "quote")):
                    report_cpu(f"{label}, {what}:", cpu[name], generator[name])


if __name__ == "__main__":
    main()
