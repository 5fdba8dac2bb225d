"""Round 64: a static file's version is its content's (`licensing.static_files`), so a
page links a new URL exactly when the file's bytes changed, and a browser may keep
each version for good."""

from __future__ import annotations

import os
from pathlib import Path

from licensing.static_files import VERSION_DIGITS, content_version


def _written(path: Path, text: str, *, later: int = 0) -> None:
    path.write_text(text, encoding="utf-8")
    if later:  # a modification time of its own, whatever the file system's resolution
        stamp = path.stat().st_mtime_ns + later
        os.utime(path, ns=(stamp, stamp))


def test_the_version_changes_when_the_files_bytes_change_and_only_then(tmp_path: Path) -> None:
    (tmp_path / "css").mkdir()
    sheet = tmp_path / "css" / "app.css"
    _written(sheet, "body { color: black; }")
    first = content_version(str(tmp_path), "css/app.css", watch=True)
    assert first is not None
    assert len(first) == VERSION_DIGITS
    assert int(first, 16) >= 0  # hex digits
    # Written again with the same bytes (a release copied anew): the same version.
    _written(sheet, "body { color: black; }", later=1_000_000)
    assert content_version(str(tmp_path), "css/app.css", watch=True) == first
    # One byte different, same size: another version.
    _written(sheet, "body { color: blacK; }", later=2_000_000)
    changed = content_version(str(tmp_path), "css/app.css", watch=True)
    assert changed not in (None, first)
    # The same bytes in another file of the folder: the same version (it is the content's).
    _written(tmp_path / "copy.css", "body { color: blacK; }")
    assert content_version(str(tmp_path), "copy.css") == changed


def test_a_production_process_reads_a_files_version_once(tmp_path: Path) -> None:
    """A production process serves one release (a new one is a new process, a HUP new
    workers), so it reads each file once; development and tests `watch` for edits."""
    script = tmp_path / "app.js"
    _written(script, "console.log(1);")
    once = content_version(str(tmp_path), "app.js")
    _written(script, "console.log(2);", later=1_000_000)
    assert content_version(str(tmp_path), "app.js") == once
    assert content_version(str(tmp_path), "app.js", watch=True) != once


def test_no_version_for_a_file_that_is_not_there_or_outside_the_folder(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "secret.txt").write_text("not served", encoding="utf-8")
    folder = str(tmp_path / "static")
    assert content_version(folder, "missing.css") is None
    assert content_version(folder, "../secret.txt") is None
    assert content_version(str(tmp_path), "static") is None  # a folder, not a file
