"""Safe file names from data, and an output folder that appears complete or not at all.

Unit names come from data (a village may be called ``../x`` or ``a/b``), so every file name is
sanitised, every path is checked to resolve inside the output before it is written, and the
finished folder is checked once more.

Atomicity: everything is written into a staging folder ``.<DIR>.partial-<pid>-XXXX`` beside
``DIR`` (same file system), the index last; at the end the staging folder is renamed to ``DIR``.
A run killed before that leaves only the hidden staging folder, never a ``DIR`` whose index looks
complete; SIGTERM unwinds like Ctrl-C (the staging folder is removed), and the next run removes
staging folders whose process is gone (SIGKILL). Replacing an earlier report folder takes two renames (old ``DIR`` aside, staging to
``DIR``); only a kill between those two leaves ``DIR`` missing (with the new reports complete in
the staging folder and the old ones in ``.<DIR>.old-XXXX``).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import unicodedata
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["MANIFEST_NAME", "OutputFolder", "ReportOutputError", "safe_filename", "unique_stems"]

MANIFEST_NAME = ".riskml-reports.json"
_RESERVED = set('/\\:*?"<>|')
_MAX_BYTES = 90


class ReportOutputError(OSError):
    """The report folder cannot be written, or a path would leave it."""


def safe_filename(text: object, *, fallback: str = "unit", max_bytes: int = _MAX_BYTES) -> str:
    """A file-name part from untrusted text: no separators, no ``..``, no control characters.

    Chinese and other letters are kept. NFKC normalisation first turns look-alikes such as the
    full-width solidus ``／`` into ``/``, which is then replaced.

    Examples
    --------
    >>> safe_filename("../x")
    'x'
    >>> safe_filename("a/b")
    'a_b'
    >>> safe_filename("红旗嘎查")
    '红旗嘎查'
    """
    s = unicodedata.normalize("NFKC", "" if text is None else str(text))
    chars = []
    for ch in s:
        cat = unicodedata.category(ch)
        if cat.startswith("C"):  # control, format, surrogate, private use, unassigned
            continue
        if ch in _RESERVED or cat.startswith("Z"):
            chars.append("_")
        else:
            chars.append(ch)
    s = "".join(chars)
    s = re.sub(r"\.{2,}", ".", s)
    s = re.sub(r"_{2,}", "_", s)
    s = s.strip(" ._-")
    encoded = s.encode("utf-8")[:max_bytes]
    s = encoded.decode("utf-8", errors="ignore").rstrip(" ._-")
    return s or fallback


def unique_stems(stems: list[str]) -> list[str]:
    """Make stems unique case-insensitively by appending ``-2``, ``-3``, ... in order."""
    seen: set[str] = set()
    out = []
    for stem in stems:
        candidate, i = stem, 2
        while candidate.casefold() in seen:
            candidate, i = f"{stem}-{i}", i + 1
        seen.add(candidate.casefold())
        out.append(candidate)
    return out


def _sigterm_to_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _remove_stale_stages(parent: Path, name: str) -> None:
    """Remove staging folders ``.<name>.partial-<pid>-XXXX`` left by killed runs (dead pids)."""
    for stage in parent.glob(f".{glob.escape(name)}.partial-*"):
        pid = stage.name[len(f".{name}.partial-") :].split("-", 1)[0]
        if stage.is_dir() and pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(stage, ignore_errors=True)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


class OutputFolder:
    """A report folder written through a staging folder and renamed into place on success.

    Use as a context manager; call :meth:`path` for every file to write and :meth:`commit`
    once everything (index last) is written. On an exception the staging folder is removed.

    Parameters
    ----------
    out_dir
        The final folder ``DIR``. It may not exist yet, may be empty, or may hold an earlier
        riskml report (recognised by its manifest); anything else is refused rather than
        replaced.
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.final = Path(out_dir).expanduser().absolute()
        self.stage: Path | None = None
        self.committed = False
        self._previous_sigterm: Any = None

    def __getstate__(self) -> dict[str, Any]:
        """What a worker process writing into the staging folder gets (no signal handler)."""
        return {**self.__dict__, "_previous_sigterm": None}

    def check(self) -> None:
        """Refuse, before any work, a ``DIR`` that is a file or a folder of other files."""
        final = self.final
        if final.exists() and not final.is_dir():
            raise ReportOutputError(
                f"Cannot write reports to {final}: it is a file. Give a folder path."
            )
        if final.is_symlink():
            raise ReportOutputError(
                f"Cannot write reports to {final}: it is a symbolic link. Give a real folder."
            )
        if final.is_dir() and any(final.iterdir()) and not (final / MANIFEST_NAME).is_file():
            raise ReportOutputError(
                f"Cannot write reports to {final}: the folder is not empty and does not hold an earlier "
                "riskml report, so riskml will not replace it. Give a new or empty folder."
            )

    def __enter__(self) -> OutputFolder:
        self.check()
        parent = self.final.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            _remove_stale_stages(parent, self.final.name)
            self.stage = Path(
                tempfile.mkdtemp(prefix=f".{self.final.name}.partial-{os.getpid()}-", dir=parent)
            )
        except OSError as exc:
            raise ReportOutputError(
                f"Cannot create a folder beside {self.final}: {exc}. Check the path and permissions."
            ) from exc
        # SIGTERM (what schedulers send) unwinds like Ctrl-C, so the staging folder is removed
        self._previous_sigterm = None
        if threading.current_thread() is threading.main_thread():
            self._previous_sigterm = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None
        if self.stage is not None and not self.committed:
            shutil.rmtree(self.stage, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, ReportOutputError):
            # a full disk or a vanished folder midway: say where, not a traceback
            raise ReportOutputError(
                f"Cannot write the reports to {self.final}: {exc.strerror or exc}. Nothing was "
                "written; free some disk space or choose another --out folder, then run again."
            ) from exc

    def path(self, *parts: str) -> Path:
        """The staging path for ``parts`` (relative), after checking it stays inside."""
        if self.stage is None:
            raise RuntimeError("OutputFolder.path() called outside its 'with' block")
        target = self.stage.joinpath(*parts)
        if any(p in ("", ".", "..") or "/" in p or "\\" in p for p in parts) or not _inside(
            target, self.stage
        ):
            raise ReportOutputError(
                f"Refusing to write {'/'.join(parts)!r}: the path would leave the report folder {self.final}."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def commit(self, manifest: dict[str, Any]) -> Path:
        """Write the manifest, rename the staging folder to ``DIR`` and check every path."""
        if self.stage is None:
            raise RuntimeError("OutputFolder.commit() called outside its 'with' block")
        self.path(MANIFEST_NAME).write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
        )
        self.check()
        old: Path | None = None
        if self.final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.old-", dir=self.final.parent))
            os.rename(self.final, old / "previous")
        os.rename(self.stage, self.final)
        self.committed = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self.verify()
        return self.final

    def verify(self) -> None:
        """Every file and folder under ``DIR`` resolves inside ``DIR`` and none is a link."""
        for root, dirs, files in os.walk(self.final):
            for name in dirs + files:
                p = Path(root) / name
                if p.is_symlink() or not _inside(p, self.final):
                    raise ReportOutputError(
                        f"{p} resolves outside the report folder {self.final}; remove it."
                    )
