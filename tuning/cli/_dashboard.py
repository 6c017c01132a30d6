"""``servetune dashboard``: optuna-dashboard on the Optuna studies servetune keeps beside its own tables.

optuna-dashboard is the optional ``dashboard`` extra. Its history, slice, contour, parallel-coordinate and
importance views read the study as it is; the trials carry servetune's state, reason and folder as user attributes
(``tuning.search.study.TrialNote``).
"""

from __future__ import annotations

import argparse
import socket
import threading
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from tuning.errors import ExitCode, MissingExtra, NotFound, UserInputError
from tuning.store import Store


class NoStudy(NotFound):
    """The run searched nothing, so no study holds its trials."""


class _QuietHandler(WSGIRequestHandler):
    # The page polls the server every few seconds; a line per request would bury the URL printed above.
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _IPv6Server(WSGIServer):
    address_family = socket.AF_INET6


def _listen(host: str, port: int, app: Any) -> WSGIServer:
    server_class = _IPv6Server if ":" in host else WSGIServer
    try:
        return make_server(host, port, app, server_class=server_class, handler_class=_QuietHandler)
    except OSError as exc:
        raise UserInputError(
            f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc}); "
            "choose another port, or --port 0 for a free one"
        ) from None


def _url_host(host: str) -> str:
    """The host to print: one a browser can open (a wildcard address is not)."""
    if host in ("", "0.0.0.0", "::"):
        return socket.getfqdn()
    return f"[{host}]" if ":" in host else host


def cmd_dashboard(args: argparse.Namespace) -> int:
    try:
        from optuna_dashboard import wsgi
    except ImportError as exc:
        raise MissingExtra(
            f"servetune dashboard needs optuna-dashboard ({exc.name or 'optuna_dashboard'} is missing): "
            "pip install 'servetune[dashboard]'"
        ) from None
    from tuning.search.study import study_name, study_storage  # Optuna: imported by the command that uses it

    store = Store()
    storage = study_storage(store.url)
    path, about = "/dashboard", f"every study in {store.safe_url}"
    if args.run is not None:
        run = store.find_run(args.run)
        name = study_name(run.id)
        try:
            study_id = storage.get_study_id_from_name(name)
        except KeyError:
            raise NoStudy(
                f"run {run.id} {run.name!r} ({run.kind}) has no Optuna study {name!r} in {store.safe_url}: "
                "only a tuning run searches; `servetune dashboard` without a run lists every study"
            ) from None
        path, about = f"/dashboard/studies/{study_id}", f"run {run.id} {run.name!r}, study {name}"
    server = _listen(args.host, args.port, wsgi(storage))
    port = server.server_address[1]
    # Requests are served on a thread of their own, so Ctrl-C always lands here: wsgiref's request handler catches
    # every exception, KeyboardInterrupt included, and would swallow a Ctrl-C that arrived while it wrote a reply.
    serving = threading.Thread(target=server.serve_forever, name="optuna-dashboard", daemon=True)
    serving.start()
    try:
        print(f"optuna-dashboard: http://{_url_host(args.host)}:{port}{path}", flush=True)
        print(f"serving {about}; Ctrl-C stops it", flush=True)
        serving.join()
    except KeyboardInterrupt:
        pass  # the way to stop it, not an interruption of work
    finally:
        server.shutdown()
        server.server_close()
    return ExitCode.ok
