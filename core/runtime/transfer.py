"""HTTP for the wheel fetcher: bounded timeouts, errors that say what to do, sha256-checked downloads."""
from __future__ import annotations

import hashlib
import http.client
import logging
import urllib.error
import urllib.request
import urllib.response
from collections.abc import Callable
from pathlib import Path

from core.errors import UserFacingError

logger = logging.getLogger(__name__)
CHUNK = 1 << 20
USER_AGENT = "meadow-runtime/1"

UrlResponse = http.client.HTTPResponse | urllib.response.addinfourl  # an http(s) answer, or a file: URL's
Progress = Callable[[str, int, int], None]  # (file name, bytes done, bytes total or 0 if unknown)


def open_url(url: str, timeout: float, accept: str = "*/*") -> UrlResponse:
    """Open a URL for reading; `timeout` bounds the connect and every read (a stalled server fails)."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": accept})
    try:
        response: UrlResponse = urllib.request.urlopen(
            request, timeout=timeout)  # http, https or a local file: URL, all three wanted
        return response
    except urllib.error.HTTPError as error:
        raise UserFacingError(f"The package index answered {error.code} {error.reason} for {url}. "
                              "Check --index-url (or the setting runtime.torch_index_url) and the variant.") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise UserFacingError(f"Cannot reach {url}: {reason}. Check the internet connection or proxy "
                              "settings, then try again.") from None


def read_text(url: str, timeout: float, accept: str = "*/*") -> str:
    with open_url(url, timeout, accept) as response:
        try:
            return response.read().decode("utf-8", errors="replace")
        except (TimeoutError, OSError) as error:
            raise UserFacingError(f"Reading {url} failed: {error}. Try again.") from None


def download(url: str, target: Path, timeout: float, sha256: str | None, progress: Progress, name: str) -> None:
    """Stream `url` into `target`, reporting progress under `name`; a sha256 mismatch deletes the file and raises."""
    digest = hashlib.sha256()
    try:
        with open_url(url, timeout) as response, target.open("wb") as handle:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            progress(name, done, total)
            while chunk := _read_chunk(response, url):
                handle.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                progress(name, done, total)
            if not total:
                progress(name, done, done)  # the server named no size: tell listeners the file is complete
    except OSError as error:  # reading errors became UserFacingError already: this is the disk
        raise UserFacingError(f"Cannot write {target}: {error}. Free some disk space, then try again.") from None
    if total and done != total:
        target.unlink(missing_ok=True)
        raise UserFacingError(f"The download of {name} ended after {done} of {total} bytes. Try again.")
    if sha256 and digest.hexdigest() != sha256.lower():
        target.unlink(missing_ok=True)
        raise UserFacingError(f"{name} does not match the sha256 the index lists (got {digest.hexdigest()}, "
                              f"expected {sha256}): the download was corrupted or tampered with. Try again; "
                              "if it keeps failing, the index or a proxy serves a wrong file.")
    if not sha256:
        logger.warning("The index lists no sha256 for %s; only the transport protected it", name)


def _read_chunk(response: UrlResponse, url: str) -> bytes:
    try:
        return response.read(CHUNK)
    except (TimeoutError, OSError) as error:
        raise UserFacingError(f"The download from {url} stalled or broke: {error}. Try again.") from None
