"""Writing a sweep's files so that a failed write (a full disk, a kill) loses nothing earlier.

A whole file (a summary, a figure, the report) is written beside its
destination and renamed over it, so that the destination holds either the
earlier file or the new one, never a part. A fit's row is appended to
``sweep_runs.csv`` and cut off again when the write fails, so that the file
holds whole rows only. Every failure is a `SweepWriteError` that names
the file.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SweepWriteError", "append_atomically", "write_atomically"]


class SweepWriteError(OSError):
    """A sweep's output file could not be written (a full disk, a lost mount, a file-size limit).

    The message names the file and the system's reason; what the file held
    before the write is still there.
    """


def _failure(path: Path, error: OSError) -> SweepWriteError:
    reason = error.strerror or str(error) or type(error).__name__
    failure = SweepWriteError(f"cannot write {path}: {reason}")
    failure.errno = error.errno  # ENOSPC, EFBIG, EIO...: the message says it in words
    return failure


def write_atomically(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` whole, or leave ``path`` as it was.

    Parameters
    ----------
    path : path-like
        The destination.
    data : str or bytes
        The file's contents (text is written as UTF-8).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    SweepWriteError
        When the file cannot be written; ``path`` is then unchanged.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     print(write_atomically(Path(folder) / "note.txt", "done").read_text())
    done
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with partial.open("wb") as file:
            file.write(payload)
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise _failure(path, error) from error
    except BaseException:  # an interrupt: no partial file stays behind
        partial.unlink(missing_ok=True)
        raise
    return path


def append_atomically(path: str | os.PathLike, data: str) -> None:
    """Append ``data`` to ``path`` whole, or cut the file back to where it ended.

    Parameters
    ----------
    path : path-like
        The file (made when missing).
    data : str
        Whole lines, written as UTF-8.

    Raises
    ------
    SweepWriteError
        When the data cannot be written; the file is then as it was.
    """
    path = Path(path)
    payload = memoryview(data.encode("utf-8"))
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as error:
        raise _failure(path, error) from error
    try:
        end = os.fstat(descriptor).st_size
        try:
            while payload:  # a short write (a full disk) writes part: write the rest, or fail
                payload = payload[os.write(descriptor, payload) :]
        except BaseException as error:  # a full disk, or an interrupt between the writes
            os.ftruncate(descriptor, end)
            if isinstance(error, OSError):
                raise _failure(path, error) from error
            raise
    finally:
        os.close(descriptor)
