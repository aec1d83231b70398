"""Fetching images from http(s) urls, with a size limit, a timeout and http-only redirects."""

from __future__ import annotations

import time
import urllib.parse

from workflow.core.errors import InputError, exception_text
from workflow.core.imaging import decode_bytes
from workflow.run.sources._deadline_http import Deadline, deadline_handlers

DEFAULT_MAX_URL_BYTES = 50 * 1024 * 1024


def is_url(text: str) -> bool:
    """True for strings that look like a url with a scheme (``http://...``, ``ftp://...``)."""
    parsed = urllib.parse.urlsplit(str(text))
    return len(parsed.scheme) > 1 and bool(parsed.netloc or parsed.scheme in ("file", "data"))


def fetch_url(url: str, max_bytes: int = DEFAULT_MAX_URL_BYTES, timeout: float = 30.0) -> bytes:
    """Download ``url`` (http or https only) with a size limit enforced while streaming and a timeout.

    ``timeout`` bounds every network wait and the whole download. Redirects to another
    scheme are refused.

    Raises:
        InputError: bad scheme, HTTP error, too large, timed out or unreachable; names the url.
    """
    import urllib.request

    _check_scheme(url)
    deadline = time.monotonic() + timeout
    with Deadline(timeout) as cutoff:  # shuts the socket at the deadline: slow servers cannot stretch it
        opener = urllib.request.build_opener(_http_only_redirects(), *deadline_handlers(cutoff))
        request = urllib.request.Request(url, headers={"User-Agent": "cv-workflow"})
        try:
            return _read(opener, request, url, max_bytes, timeout, deadline)
        except Exception:
            if cutoff.expired:  # whatever the shut socket made the reader say
                raise InputError(f"{url}: timed out after {timeout:g} s") from None
            raise


def _read(opener, request, url: str, max_bytes: int, timeout: float, deadline: float) -> bytes:
    """Open ``request`` and read the body within ``max_bytes`` and the deadline (errors mapped by the
    caller)."""
    import socket
    import urllib.error

    try:
        with opener.open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise InputError(f"{url}: too large ({int(length)} bytes; limit {max_bytes})")
            chunks, total = [], 0
            while True:
                chunk = response.read1(64 * 1024)
                if time.monotonic() > deadline:
                    raise InputError(f"{url}: timed out after {timeout:g} s")
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    raise InputError(f"{url}: too large (more than {max_bytes} bytes)")
                chunks.append(chunk)
            return b"".join(chunks)
    except InputError:
        raise
    except urllib.error.HTTPError as exc:
        raise InputError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (socket.timeout, TimeoutError)):
            raise InputError(f"{url}: timed out after {timeout:g} s") from None
        raise InputError(f"{url}: cannot fetch ({exception_text(exc.reason)})") from None
    except TimeoutError:
        raise InputError(f"{url}: timed out after {timeout:g} s") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{url}: cannot fetch ({exception_text(exc)})") from None


def load_url(
    url: str, min_side: int | None = None, max_bytes: int = DEFAULT_MAX_URL_BYTES, timeout: float = 30.0
):
    """Fetch and decode an image url (see :func:`fetch_url` and :func:`decode_bytes`)."""
    return decode_bytes(fetch_url(url, max_bytes=max_bytes, timeout=timeout), url, min_side=min_side)


def url_file_name(url: str) -> str:
    """The last path segment of a url (``image`` when it has none), for naming results."""
    tail = urllib.parse.unquote(urllib.parse.urlsplit(url).path).rstrip("/").rsplit("/", 1)[-1]
    return tail or "image"


def _check_scheme(url: str) -> None:
    scheme = urllib.parse.urlsplit(str(url)).scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"'{scheme}'" if scheme else "none"
        raise InputError(f"{url}: only http and https urls are allowed (scheme {shown})")


def _http_only_redirects():
    """A redirect handler that refuses redirects to anything but http(s) (urllib imported lazily)."""
    import urllib.request

    class HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):
            if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
                raise InputError(
                    f"{req.full_url}: redirect to {newurl} refused (only http and https urls are allowed)"
                )
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return HttpOnlyRedirects()
