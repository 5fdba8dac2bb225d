"""Static files named by their content, so a browser keeps them (round 64).

Before, `/static/css/app.css` was served without `max-age`: every page load asked
again for each stylesheet and script, and each was a 304. Now the pages link each
file with its content's version, `/static/css/app.css?v=3f2a9c0d51be` (the first
digits of the SHA-256 of its bytes, `content_version`), and a request carrying the
file's current version is answered with `Cache-Control: public, max-age=31536000,
immutable`: the browser keeps it a year without asking. A new release whose file
changed links a new version, so the browser fetches it once. A request without a
version, or with one that is not the file's (a page from before a release), is
served as before: `Cache-Control: no-cache`, revalidated each time.

The version is computed once per process for a file (a production process serves
one release: a new release is a new process, a HUP new workers); in development and
tests, where a file may be edited while the process runs, it is computed again
when the file's size or modification time changed.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from typing import Final

from flask import Response
from werkzeug.security import safe_join

# The query argument that carries a file's version.
VERSION_ARGUMENT: Final = "v"
# Hex digits of the SHA-256 kept: 48 bits, far beyond the files of one release.
VERSION_DIGITS: Final = 12
# A year: what `immutable` means to browsers, and the longest max-age RFC 9111
# suggests caches honour.
KEPT_FOR: Final = 365 * 24 * 60 * 60
# The files of static/ are a few dozen; the bound only stops growth.
_MOST_KNOWN: Final = 256

# (folder, filename) -> (size and modification time when it was read, its version)
_known: dict[tuple[str, str], tuple[tuple[int, int], str]] = {}
_lock = threading.Lock()


def content_version(folder: str, filename: str, *, watch: bool = False) -> str | None:
    """The version of `folder/filename` (the first VERSION_DIGITS hex digits of the
    SHA-256 of its bytes), read once per process; with `watch`, read again when the
    file's size or modification time changed. None when there is no such file (or
    `filename` leaves the folder)."""
    known = _known.get((folder, filename))
    if known is not None and not watch:
        return known[1]
    path = safe_join(folder, filename)
    if path is None:
        return None
    try:
        found = os.stat(path)
        if not stat.S_ISREG(found.st_mode):
            return None
        stamp = (found.st_size, found.st_mtime_ns)
        if known is not None and known[0] == stamp:
            return known[1]
        with open(path, "rb") as file:
            version = hashlib.sha256(file.read()).hexdigest()[:VERSION_DIGITS]
    except OSError:
        return None
    with _lock:
        if (folder, filename) in _known or len(_known) < _MOST_KNOWN:
            _known[(folder, filename)] = (stamp, version)
    return version


def keep_when_versioned(
    response: Response, given: str | None, folder: str, filename: str, *, watch: bool = False
) -> Response:
    """`response` (the file served) marked to be kept a year without asking again
    when the request named the file's current version (`given`, the request's
    VERSION_ARGUMENT); otherwise as it was."""
    if given is not None and given == content_version(folder, filename, watch=watch):
        response.cache_control.no_cache = None  # Flask's default for a file: ask each time
        response.cache_control.public = True
        response.cache_control.max_age = KEPT_FOR
        response.cache_control.immutable = True
    return response
