"""Process-wide runtime settings shared by every server and by the benchmarks that measure them."""

import ctypes
import ctypes.util
import gc

#: glibc's `mallopt` parameter: blocks at least this large are mapped on their own.
_M_MMAP_THRESHOLD = -3
#: glibc's default, made fixed (see `return_large_blocks`).
LARGE_BLOCK = 128 << 10


def tune_gc() -> None:
    """Collect young objects less often.

    A server holding hundreds of thousands of long-lived objects (allocations, routes) spends much
    of its time in CPython's default generation-0 collections, which re-scan survivors: measured
    on the IPAM /16 fill, 40 % of the run. Collecting every 100,000 allocations instead of every
    700 keeps that below a few percent; memory is unaffected (nothing here forms cycles).
    """
    gc.set_threshold(100_000, 50, 100)


def return_large_blocks() -> bool:
    """Give blocks of 128 KiB and more back to the system as soon as they are freed (glibc).

    A server's largest blocks come and go with its largest calls: a 4 MiB request as gRPC hands
    it over, its parsed form, the answer's encoding (issue 15). glibc maps such a block on its
    own and unmaps it when freed, but then raises its threshold to that block's size, so the
    next ones come from the heap, and a freed one stays in the process's memory whenever
    anything lives above it in the heap. Fixing the threshold at its default keeps large blocks
    mapped: sixteen 4 MiB ConvergeServices in a row peaked ~10 MB lower (bench/limits.py).
    False where there is no glibc (nothing changes)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK))
