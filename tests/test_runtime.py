"""metallb_runtime/runtime.py: process-wide settings every server starts with."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# In a fresh interpreter: free an 8 MiB block (glibc then raises its threshold to 8 MiB), take
# another and a small block above it, free the 8 MiB one, and print how much of it the process
# still holds. Each step's resident size is the process's own: other processes do not change it.
_PROBE = """
import sys
from metallb_runtime.runtime import return_large_blocks
if sys.argv[1] == "tuned":
    assert return_large_blocks()
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
first = bytearray(8 << 20)
del first
second = bytearray(8 << 20)
above = bytearray(256 << 10)  # a block after the second one
held = rss()
del second
print(held - rss())
"""


def _given_back(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT}:{ROOT / 'protos'}", "PATH": "/usr/bin:/bin"},
    )
    return int(out.stdout)


def test_a_freed_large_block_goes_back_to_the_system() -> None:
    """With the setting, the second 8 MiB block is given back when freed; without it, glibc
    took it from its heap, below the small block, and keeps it."""
    assert _given_back("tuned") > 6 << 20
    assert _given_back("default") < 2 << 20
