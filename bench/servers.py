"""The servers benchmarks talk to: a given OpenAI-compatible URL, or the mock server started for the run."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DUMMY_KEY = "sk-bench-dummy-not-a-key"
# The instant mock of OpenAI's API (copied from the shared tools, with log-probabilities and token counts).
MOCK_SERVER = Path(__file__).resolve().parent / "mock_openai_server.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(url: str) -> bool:
    """Whether an OpenAI-compatible server answers at ``url`` (GET /models)."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/models", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def server_stats(url: str) -> dict:
    """The mock server's request counts (GET /stats); {} for servers without them."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/stats", timeout=2) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return {}


@contextmanager
def serving(url: str | None, script: Path = MOCK_SERVER, latency: float = 0.0, vary: bool = False) -> Iterator[str]:
    """The given server, or the mock server started on a free loopback port for this run (answering each
    request ``latency`` seconds late; with ``vary``, no two plain-text answers alike)."""
    if url:
        yield url
        return
    port = free_port()
    process = subprocess.Popen([sys.executable, str(script), "--port", str(port), "--max-seconds", "3600",
                                *(["--latency", str(latency)] if latency else []), *(["--vary"] if vary else [])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 20
        while not answers(started):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the mock server {script} did not start")
            time.sleep(0.05)
        yield started
    finally:
        _stop(process)


@contextmanager
def dummy_api_key() -> Iterator[None]:
    """Requests carry a dummy key: a real OPENAI_API_KEY must never go to a benchmark server."""
    saved = os.environ.get("OPENAI_API_KEY")
    os.environ["OPENAI_API_KEY"] = DUMMY_KEY
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("OPENAI_API_KEY", None)
        else:
            os.environ["OPENAI_API_KEY"] = saved


BUILD_SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "build-llama-server"


class LlamaServerUnavailable(RuntimeError):
    """llama.cpp's server cannot run here; the message says why (the build script's own line, when it has one)."""


def llama_server_binary(build: bool = False) -> Path:
    """The llama-server binary that .ci/build-llama-server built (or builds, with ``build``)."""
    if not BUILD_SCRIPT.is_file():
        raise LlamaServerUnavailable(f"no {BUILD_SCRIPT} (an installed package has no build script)")
    done = subprocess.run(["bash", str(BUILD_SCRIPT), *([] if build else ["--cached-only"])],
                          capture_output=True, text=True, timeout=3600)
    if done.returncode != 0 or not done.stdout.strip():
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise LlamaServerUnavailable(lines[-1] if lines else f"{BUILD_SCRIPT} failed ({done.returncode})")
    return Path(done.stdout.strip().splitlines()[-1])


def _stop(process: subprocess.Popen) -> None:
    """Terminate a server this module started; kill it if it has not gone 15 s later."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, ask for SIGTERM when the parent dies (a killed benchmark or test)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@contextmanager
def llama_server(binary: Path, gguf: Path, *, threads: int | None = None, slots: int = 4,
                 context: int = 16384, log: Path | None = None) -> Iterator[str]:
    """llama.cpp's OpenAI-compatible server on a free loopback port, serving ``gguf``; its ``…/v1`` URL.

    ``slots`` requests run in parallel (continuous batching), each with ``context / slots`` tokens.
    ``threads``: by default half the cores. llama.cpp's threads spin while they wait for each other:
    with as many threads as cores, and anything else running (the campaign's own Python), a 48-token
    answer took 15 s instead of 0.9 s on 2 cores.
    """
    port = free_port()
    threads = threads or max(1, (os.cpu_count() or 2) // 2)
    command = [str(binary), "-m", str(gguf), "--host", "127.0.0.1", "--port", str(port),
               "-t", str(threads), "-c", str(context), "-np", str(slots),
               "--no-webui"]
    out = open(log, "wb") if log else subprocess.DEVNULL
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while not answers(url):
            if process.poll() is not None:
                raise LlamaServerUnavailable(f"llama-server exited with {process.returncode} before answering"
                                             + (f" (log: {log})" if log else ""))
            if time.monotonic() > deadline:
                raise LlamaServerUnavailable("llama-server did not answer within 120 s")
            time.sleep(0.1)
        yield url
    finally:
        _stop(process)
        if log:
            out.close()


@contextmanager
def chroma_server(directory: Path) -> Iterator[str]:
    """`chroma run` (the chromadb package's server) on a free loopback port, keeping its data in ``directory``;
    its URL. Stopped when the block ends."""
    chroma = Path(sys.executable).with_name("chroma")
    if not chroma.exists():
        raise RuntimeError(f"no `chroma` command beside {sys.executable}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([str(chroma), "run", "--path", str(directory), "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "ANONYMIZED_TELEMETRY": "False"}, preexec_fn=_die_with_parent)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Chroma server did not start")
            time.sleep(0.1)
        yield url
    finally:
        _stop(process)
