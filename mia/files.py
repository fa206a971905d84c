"""Writing files so that a crash never leaves half of one: a temporary file, fsync, rename."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO


@contextmanager
def atomic_open(path: Path, *, mode: int | None = None, dir_mode: int = 0o777) -> Iterator[BinaryIO]:
    """A binary file that appears at `path` whole when the block ends, or not at all if it fails."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=dir_mode)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if mode is not None:
            os.fchmod(fd, mode)  # before the first byte, so a secret is never readable by others
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: str | bytes, *, mode: int | None = None, dir_mode: int = 0o777) -> None:
    """Write `data` to `path` through a temporary file in the same folder (created with `mode` if given)."""
    with atomic_open(path, mode=mode, dir_mode=dir_mode) as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
