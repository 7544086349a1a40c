"""Giving freed memory back to the operating system: the one place riskml calls into libc.

Why: building a training set for a large roster first loads the bundle (Arrow buffers, many small
pandas objects), then streams chunks for minutes. The memory freed after loading stays in Arrow's
pool and in glibc's heap unless handed back, and the process's resident size, what a machine with
little memory cares about, then holds the loading peak for the whole build. ``malloc_trim`` is
glibc's call for that; it does not exist elsewhere (musl, macOS), where this is a no-op.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc

import pyarrow as pa

__all__ = ["release_unused_memory"]


def release_unused_memory() -> None:
    """Collect garbage and return the free memory of Arrow's pool and of the C heap."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # glibc only
        ctypes.CDLL("libc.so.6").malloc_trim(0)
