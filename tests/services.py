"""Throwaway service processes for tests: a Chroma server and a PostgreSQL cluster on loopback.

Plain helpers (no pytest): each starts its process, waits until it answers, and
stops exactly the process it started.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class ServiceUnavailable(RuntimeError):
    """The service cannot run on this machine (the message says why)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until(ready, process: subprocess.Popen, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}: {log.read_text(errors='replace')[-2000:]}")
        if ready():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer within {seconds:.0f} s: {log.read_text(errors='replace')[-2000:]}")


def _stop(process: subprocess.Popen, seconds: float = 15) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class ChromaServer:
    url: str
    process: subprocess.Popen
    directory: Path
    port: int

    def stop(self) -> None:
        _stop(self.process)

    def start_again(self) -> None:
        """Start the server again on the same port and data (after ``stop``): a restart, as an operator would."""
        self.process = _run_chroma(self.directory, self.port).process


def _run_chroma(directory: Path, port: int) -> ChromaServer:
    chroma = Path(sys.executable).with_name("chroma")
    if not chroma.exists():
        raise ServiceUnavailable("the `chroma` command of the chromadb package is not installed")
    log = directory / "chroma-server.log"
    directory.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [str(chroma), "run", "--path", str(directory / "data"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    url = f"http://127.0.0.1:{port}"

    def heartbeat() -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        _wait_until(heartbeat, process, 60, "chroma server", log)
    except BaseException:
        _stop(process)
        raise
    return ChromaServer(url, process, directory, port)


def start_chroma_server(directory: Path) -> ChromaServer:
    """`chroma run` on a free loopback port, persisting under ``directory``."""
    return _run_chroma(directory, free_port())


def find_postgres_bin() -> Path | None:
    """The directory holding initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/*/bin."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                        if Path(p).parent.name.isdigit() else 0)
    for candidate in reversed(candidates):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def _unprivileged_user() -> str | None:
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    return None


@dataclass
class PostgresServer:
    url: str
    data_dir: Path
    bin_dir: Path
    run_as: list[str]
    options: str = ""

    def halt(self) -> None:
        """Stop the server at once (as a crash or a restart would), keeping its data."""
        subprocess.run([*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate",
                        "-w", "stop"], capture_output=True, timeout=60, check=False)

    def start_again(self) -> None:
        """Start the halted server again, on the same port and data."""
        started = subprocess.run([*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l",
                                  str(self.data_dir.parent / "server.log"), "-o", self.options, "-w", "-t", "60",
                                  "start"], capture_output=True, text=True, timeout=90, check=False)
        if started.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {started.stderr.strip()}")

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """A throwaway PostgreSQL cluster with trust auth on a free loopback port (no Unix socket).

    initdb refuses to run as root, so as root the server runs as an unprivileged
    user (postgres, else nobody) in a fresh directory under the system temp dir.
    """
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        raise ServiceUnavailable("PostgreSQL server binaries (initdb, pg_ctl) not found; install Debian's `postgresql`")
    run_as: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="muspsy-pg-"))
    if os.geteuid() == 0:
        user = _unprivileged_user()
        runuser = shutil.which("runuser")
        if user is None or runuser is None:
            shutil.rmtree(base, ignore_errors=True)
            raise ServiceUnavailable("running as root without runuser or an unprivileged user for initdb")
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
        run_as = [runuser, "-u", user, "--"]
    data_dir = base / "data"
    initdb = subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres",
                             "--auth=trust", "--no-sync", "-E", "UTF8"], capture_output=True, text=True, timeout=120,
                            check=False)
    if initdb.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {initdb.stderr.strip()[-1000:]}")
    port = free_port()
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' -c fsync=off"
    started = subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(base / "server.log"),
                              "-o", options, "-w", "-t", "60", "start"], capture_output=True, text=True, timeout=90,
                             check=False)
    server = PostgresServer(f"postgresql://postgres@127.0.0.1:{port}/postgres", data_dir, bin_dir, run_as, options)
    if started.returncode != 0:
        log = (base / "server.log").read_text(errors="replace") if (base / "server.log").exists() else ""
        server.stop()
        raise RuntimeError(f"pg_ctl start failed: {started.stderr.strip()} {log[-1000:]}")
    return server


def create_database(server_url: str, name: str) -> str:
    """A fresh database on the server; returns its URL."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"
