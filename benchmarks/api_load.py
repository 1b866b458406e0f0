"""The HTTP door's cost: concurrent API clients against a real `handoff serve` on SQLite, against the same
work done in-process through the engine, in the same run (DESIGN §5: API >= 0.7x in-process at 8 clients).

One unit of work is what an operator's tool does: start an instance of `one_task.bpmn` (POST
/api/processes/one_task/instances) and complete its task (POST /api/tasks/{id}/complete). Every client
(a thread with the standard library's http.client, keep-alive: light, since clients and server share the
machine) is an operator of lane Work signed in with an API token of their own; the server is `handoff serve` as a
subprocess on 127.0.0.1 (bounded: --units in all, at most --seconds, then everything stops). The
in-process baseline does the same units one after another through `Handoff.start` and `.complete` on
a fresh SQLite file, with the same users registered (so the same role and lane checks run).

Each round alternates HTTP and in-process slices (--slices), so that the machine's other load falls on
both alike. Printed per round: completions/s over HTTP and in-process, their ratio, p50/p99 latency of
the HTTP requests, errors (409 conflicts counted apart, as expected), and the CPU ratio: the engine's CPU
time per unit in-process over the server process's per unit over HTTP (what the door costs in work,
less disturbed by other jobs than the wall clock); then the medians of the rounds.

    python3 benchmarks/api_load.py [--clients 8] [--units 1200] [--rounds 3] [--workers 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from engine import Handoff, signin  # noqa: E402
from storage import Database  # noqa: E402

PROCESS = ROOT / "benchmarks" / "one_task.bpmn"
PASSWORD = "benchmark password"


def prepare(url: str, clients: int) -> list[str]:
    """A database with the process deployed, an admin who can sign in, and one operator (with an API
    token) per client; returns the tokens."""
    app = Handoff(Database(url))
    try:
        app.init()
        app.add_user("boss", role="admin", actor="boss")
        signin.set_password(app, "boss", PASSWORD, actor="boss")
        app.deploy([PROCESS], actor="boss")
        tokens = []
        for n in range(clients):
            app.add_user(f"op{n}", role="operator", lanes=["Work"], actor="boss")
            tokens.append(signin.create_token(app, f"op{n}", expires=None, actor="boss").token)
        return tokens
    finally:
        app.db.dispose()


class InProcess:
    """The baseline: the same units one after another through the engine, on a SQLite file of its own."""

    def __init__(self, folder: str, clients: int) -> None:
        url = f"sqlite:///{folder}/inproc.db"
        prepare(url, clients)
        self.app = Handoff(Database(url))
        self.clients = clients
        self.done = 0

    def run(self, units: int) -> tuple[float, float]:
        """(wall seconds, CPU seconds) for `units` more units."""
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(units):
            actor = f"op{self.done % self.clients}"
            view = self.app.start("one_task", data={"n": self.done}, actor=actor)
            finished = self.app.complete(view.tasks[0].id, data={"done": True}, actor=actor)
            assert finished.status == "completed"
            self.done += 1
        return time.perf_counter() - wall, time.process_time() - cpu

    def close(self) -> None:
        self.app.db.dispose()


def _post(http: HTTPConnection, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    http.request("POST", path, body=body, headers=headers)
    answer = http.getresponse()
    return answer.status, answer.read()


class Load:
    """N client threads sharing a budget of units; each records its requests' latencies."""

    def __init__(self, url: str, tokens: list[str], units: int, seconds: float) -> None:
        self.url, self.tokens, self.left, self.seconds = url, tokens, units, seconds
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.completed = 0
        self.conflicts = 0
        self.errors: list[str] = []

    def take(self) -> bool:
        with self.lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True

    def client(self, token: str, deadline: float) -> None:
        # The standard library's HTTP client (keep-alive, one connection per client): the clients share
        # the machine's 2 cores with the server, and a lighter client leaves more of them to it.
        host, port = urlsplit(self.url).hostname, urlsplit(self.url).port
        http = HTTPConnection(host or "127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        latencies: list[float] = []
        try:
            while time.perf_counter() < deadline and self.take():
                t0 = time.perf_counter()
                status, body = _post(
                    http, "/api/processes/one_task/instances", b'{"data": {"n": 1}}', headers
                )
                t1 = time.perf_counter()
                latencies.append(t1 - t0)
                if status != 201:
                    self.note(status, body)
                    continue
                task = json.loads(body)["tasks"][0]["id"]
                status, body = _post(
                    http, f"/api/tasks/{task}/complete", b'{"data": {"done": true}}', headers
                )
                latencies.append(time.perf_counter() - t1)
                if status == 200 and json.loads(body)["status"] == "completed":
                    with self.lock:
                        self.completed += 1
                else:
                    self.note(status, body)
        finally:
            http.close()
        with self.lock:
            self.latencies.extend(latencies)

    def note(self, status: int, body: bytes) -> None:
        with self.lock:
            if status == 409:
                self.conflicts += 1
            else:
                self.errors.append(f"{status} {body[:200].decode('utf-8', 'replace')}")

    def run(self) -> float:
        deadline = time.perf_counter() + self.seconds
        threads = [threading.Thread(target=self.client, args=(t, deadline)) for t in self.tokens]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return self.completed / (time.perf_counter() - began)


def serve(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "--db", url, "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/openapi.json", timeout=2)
            return process
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("handoff serve did not start") from None
            time.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to compare the server's work per unit with the
    engine's in-process: a figure that other jobs on the machine disturb less than the wall clock."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_round(units: int, clients: int, seconds: float, workers: int, slices: int) -> dict[str, Any]:
    """HTTP and in-process in alternating slices (the machine's other load falls on both alike)."""
    import socket

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/api.db"
        tokens = prepare(url, clients)
        local = InProcess(tmp, clients)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = serve(url, port, workers)
        base = f"http://127.0.0.1:{port}"
        try:
            Load(base, tokens, clients * 5, seconds).run()  # connections, caches, the spec: not measured
            local.run(clients * 5)
            http_wall = local_wall = local_cpu = server_cpu = 0.0
            completed, latencies, conflicts, errors = 0, [], 0, []
            per_slice = max(1, units // slices)
            deadline = time.perf_counter() + seconds
            for _ in range(slices):
                if time.perf_counter() > deadline:
                    break
                load = Load(base, tokens, per_slice, max(1.0, deadline - time.perf_counter()))
                cpu_before = cpu_seconds(server.pid)
                began = time.perf_counter()
                load.run()
                http_wall += time.perf_counter() - began
                server_cpu += cpu_seconds(server.pid) - cpu_before
                completed += load.completed
                latencies += load.latencies
                conflicts += load.conflicts
                errors += load.errors
                wall, cpu = local.run(per_slice)
                local_wall += wall
                local_cpu += cpu
        finally:
            local.close()
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        latencies.sort()
        rate = completed / http_wall
        local_rate = local.done and (local.done - clients * 5) / local_wall
        return {
            "rate": rate,
            "in_process_rate": local_rate,
            "ratio": rate / local_rate,
            # CPU per unit: in-process engine vs the server process (workers=1 only: one process)
            "cpu_ratio": (local_cpu / (local.done - clients * 5)) / (server_cpu / completed)
            if workers == 1 and completed
            else None,
            "completed": completed,
            "p50_ms": 1000 * statistics.median(latencies) if latencies else None,
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
            if latencies
            else None,
            "conflicts": conflicts,
            "errors": errors[:5],
            "error_count": len(errors),
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients (at most 64)")
    parser.add_argument("--units", type=int, default=1200, help="start+complete units per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=120.0, help="a round stops after this long")
    parser.add_argument("--workers", type=int, default=1, help="handoff serve --workers")
    parser.add_argument("--slices", type=int, default=6, help="alternations of HTTP and in-process per round")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    clients = max(1, min(args.clients, 64))
    rounds = []
    for r in range(args.rounds):
        http = one_round(args.units, clients, args.seconds, args.workers, args.slices)
        rounds.append(http)
        if not args.json:
            cpu = f", CPU ratio {http['cpu_ratio']:.2f}" if http["cpu_ratio"] else ""
            print(
                f"round {r + 1}: HTTP {http['rate']:.0f} completions/s ({clients} clients, p50 "
                f"{http['p50_ms']:.1f} ms, p99 {http['p99_ms']:.1f} ms, {http['conflicts']} conflicts, "
                f"{http['error_count']} errors) | in-process {http['in_process_rate']:.0f}/s | "
                f"ratio {http['ratio']:.2f}{cpu}",
                flush=True,
            )
            for error in http["errors"]:
                print(f"  error: {error}")
    summary = {
        "clients": clients,
        "workers": args.workers,
        "units": args.units,
        "rounds": rounds,
        "median": {
            key: statistics.median(r[key] for r in rounds)
            for key in ("rate", "in_process_rate", "ratio", "p50_ms", "p99_ms")
        },
        "median_cpu_ratio": statistics.median(r["cpu_ratio"] for r in rounds)
        if rounds[0]["cpu_ratio"]
        else None,
        "errors": sum(r["error_count"] for r in rounds),
        "conflicts": sum(r["conflicts"] for r in rounds),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    m = summary["median"]
    print(
        f"median of {len(rounds)}: HTTP {m['rate']:.0f} completions/s, p50 {m['p50_ms']:.1f} ms, "
        f"p99 {m['p99_ms']:.1f} ms | in-process {m['in_process_rate']:.0f}/s | ratio {m['ratio']:.2f} "
        f"(target >= 0.7) | errors {summary['errors']}, conflicts {summary['conflicts']}"
        + (f" | CPU ratio {summary['median_cpu_ratio']:.2f}" if summary["median_cpu_ratio"] else "")
    )


if __name__ == "__main__":
    main()
