"""Inputs that once crashed a decoder or a servicer, kept and replayed before any fuzzing.

One folder per target (a gRPC method's full name, or a decoder's name), one file per input,
holding the raw bytes (an encoded request message, a packet, an HTTP body). Add a file here
when a fuzz test finds a crash, with the fix.
"""

from pathlib import Path

HERE = Path(__file__).parent


def corpus_inputs(target: str) -> list[bytes]:
    """The kept inputs of `target`, in name order."""
    folder = HERE / target
    if not folder.is_dir():
        return []
    return [p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()]
