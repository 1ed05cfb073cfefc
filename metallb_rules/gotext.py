"""Go's fmt verbs, as MetalLB's error texts use them, so our messages match MetalLB's exactly.

`%q` of a string is a double-quoted Go string literal; `%q` of a slice quotes each element and
joins them with spaces inside brackets (`["1.2.3.4" "::1"]`).
"""

from collections.abc import Iterable

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def quote(value: object) -> str:
    """Go's `%q` of one value (its string form)."""
    text = str(value)
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'  # nothing to escape (addresses, names): the common case, at once
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) > 0xFF else f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def quote_list(values: Iterable[object]) -> str:
    """Go's `%q` of a slice."""
    return "[" + " ".join(quote(v) for v in values) + "]"
