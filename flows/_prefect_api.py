"""Prefect's server, as the flows lose it: a run that cannot reach it ends naming it, not with an HTTP traceback.

Prefect's client retries a request whose connection was refused or dropped, with growing pauses (2, 4, ... s), up
to ``PREFECT_CLIENT_MAX_RETRIES`` times (5 by default: about a minute), so a server restarted within that time is
not noticed. What still fails after that reaches the flows as an httpx error about a URL under the API's.
"""

from __future__ import annotations

import httpx
from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES

from tuning.errors import ServetuneError

# A proxy's or load balancer's answers while the server behind it is down.
_UNAVAILABLE = frozenset({502, 503, 504})


class PrefectUnreachable(ServetuneError, ConnectionError):
    """Prefect's server did not answer through all of its client's retries."""


def unreachable(exc: BaseException) -> str | None:
    """Why the run ended, if ``exc`` (or an error it came from) is a request to Prefect's API that failed for good:
    a connection refused, dropped or timed out, or a gateway's answer that the server is down."""
    api = str(PREFECT_API_URL.value() or "").rstrip("/")
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, httpx.HTTPStatusError) and error.response.status_code not in _UNAVAILABLE:
            return None  # the server answered: a refusal of servetune's request, or its bug, to show whole
        if isinstance(error, httpx.RequestError | httpx.HTTPStatusError) and _under(error, api):
            retries = PREFECT_CLIENT_MAX_RETRIES.value()
            return (
                f"lost the Prefect server at {api}: {type(error).__name__}: {error} (still failing after "
                f"{retries} retries; PREFECT_CLIENT_MAX_RETRIES sets how many)"
            )
        error = error.__cause__ or error.__context__
    return None


def _under(error: httpx.RequestError | httpx.HTTPStatusError, api: str) -> bool:
    try:
        url = str(error.request.url)
    except RuntimeError:  # an error raised without its request
        return False
    return bool(api) and url.startswith(api)
