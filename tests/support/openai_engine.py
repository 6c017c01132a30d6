"""A stand-in for a local engine: a small OpenAI-compatible server that the local deployer starts like vLLM.

It is made executable under a ``#!`` line naming this interpreter and given to a spec as ``engine.python``, so
the deployer runs ``<it> -m vllm.entrypoints.openai.api_server --model ... --port N --max-num-seqs K ...``
exactly as it runs the real engine, in its own process group, logging to ``engine.log``. It serves ``/health``,
the readiness probe's ``/v1/completions``, and genai-bench's streamed ``/v1/chat/completions``, in milliseconds.

What it does depends on its ``--max-num-seqs`` value, looked up in ``STANDIN_FAULTS`` (a JSON object set through
``engine.env``): ``"crash"`` writes an error and exits 1 at once; ``"hang"`` never listens; ``"slow:S"`` listens
after S seconds; anything else (or no entry) serves at once. Any other invocation (the flag check's
``-I _flag_dump.py vllm --version``) exits 3, which servetune reads as "vLLM is not installed here" and so leaves
the flags unchecked.

Only the standard library: it starts in a fraction of a second.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FAULTS_VAR = "STANDIN_FAULTS"
LOG_VAR = "STANDIN_LOG"  # a JSON list of lines to print at start
_TOKENS = 8


def install(folder: Path) -> Path:
    """An executable copy of this script in ``folder``, run by this interpreter: a spec's ``engine.python``."""
    target = folder / "standin-engine"
    target.write_text(f"#!{sys.executable}\n" + Path(__file__).read_text())
    target.chmod(target.stat().st_mode | stat.S_IXUSR)
    return target


def _option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv and argv.index(name) + 1 < len(argv) else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    served_name = ""

    def setup(self) -> None:
        super().setup()
        # Each streamed token goes out on its own: without this, Nagle's algorithm merges them and genai-bench
        # sees every token at once (no time per output token to measure).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _json(self, code: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._json(200, {}) if self.path == "/health" else self._json(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if body.get("model") != self.served_name:
            self._json(404, {"message": f"The model `{body.get('model')}` does not exist."})
        elif self.path == "/v1/completions":
            self._json(200, {"choices": [{"index": 0, "text": " world", "finish_reason": "length"}]})
        elif self.path == "/v1/chat/completions":
            self._stream()
        else:
            self._json(404, {"detail": "Not Found"})

    def _stream(self) -> None:
        # Server-sent events as vLLM streams them: content deltas, a finish reason, then the usage on its own. Each
        # in an HTTP chunk of its own, as a client reads a chunked stream piece by piece (it would read a stream
        # without chunks to its end before seeing any token).
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunks = [{"choices": [{"index": 0, "delta": {"content": " tok"}, "finish_reason": None}]}] * _TOKENS
        chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
        chunks.append({"choices": [], "usage": {"prompt_tokens": 40, "completion_tokens": _TOKENS}})
        events = [b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in chunks] + [b"data: [DONE]\n\n"]
        try:
            for event in events:
                self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                time.sleep(0.005)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client had read what it needed


def main(argv: list[str]) -> int:
    port = _option(argv, "--port")
    if port is None:
        return 3
    faults = json.loads(os.environ.get(FAULTS_VAR) or "{}")
    behaviour = faults.get(_option(argv, "--max-num-seqs") or "", "serve")
    print(f"standin engine: {behaviour} on port {port}", flush=True)
    for line in json.loads(os.environ.get(LOG_VAR) or "[]"):  # as an engine logs while it starts; $NAME expanded
        print(os.path.expandvars(line), flush=True)
    if behaviour == "crash":
        print("ERROR: torch.OutOfMemoryError: CUDA out of memory (stand-in)", flush=True)
        return 1
    if behaviour == "hang":
        while True:
            time.sleep(60)
    if behaviour.startswith("slow:"):
        time.sleep(float(behaviour.removeprefix("slow:")))
    _Handler.served_name = _option(argv, "--served-model-name") or ""
    server = ThreadingHTTPServer((_option(argv, "--host") or "127.0.0.1", int(port)), _Handler)
    server.daemon_threads = True
    print("standin engine: serving", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
