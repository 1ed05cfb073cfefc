"""BGP communities as MetalLB writes them: `a:b` (RFC 1997) and `large:a:b:c` (RFC 8092).

Parsing follows MetalLB's `internal/bgp/community`, with its error texts (including the Go
`strconv` error it quotes). Ordering follows MetalLB's `LessThan`: a legacy `a:b` compares as the
large triple `(a << 16 | b, 0, 0)`.
"""

from dataclasses import dataclass

from metallb_rules.gotext import quote


class CommunityError(ValueError):
    """A community string MetalLB rejects; the text is MetalLB's."""


@dataclass(frozen=True, order=True)
class Community:
    """A legacy (RFC 1997) or large (RFC 8092) community."""

    # (global, local1, local2) for a large community; (a << 16 | b, 0, 0) for a legacy one.
    sort_key: tuple[int, int, int]
    large: bool

    @classmethod
    def legacy(cls, high: int, low: int) -> "Community":
        return cls(((high << 16) | low, 0, 0), False)

    @classmethod
    def large_of(cls, a: int, b: int, c: int) -> "Community":
        return cls((a, b, c), True)

    @property
    def value(self) -> int:
        """The 32-bit value of a legacy community."""
        return self.sort_key[0]

    def __str__(self) -> str:
        if self.large:
            return "large:{}:{}:{}".format(*self.sort_key)
        return f"{self.value >> 16}:{self.value & 0xFFFF}"


def _go_parse_uint(text: str, bits: int) -> int:
    """Go's strconv.ParseUint(text, 10, bits), raising its error text."""
    if not text or not text.isascii() or not text.isdigit():
        raise ValueError(f"strconv.ParseUint: parsing {quote(text)}: invalid syntax")
    value = int(text)
    if value >= 1 << bits:
        raise ValueError(f"strconv.ParseUint: parsing {quote(text)}: value out of range")
    return value


def parse_community(text: str) -> Community:
    """MetalLB's `community.New`."""
    fields = text.split(":")
    if len(fields) == 2:
        values = []
        for part in fields:
            try:
                values.append(_go_parse_uint(part, 16))
            except ValueError as err:
                raise CommunityError(
                    f"invalid community value: invalid section {quote(part)} of community "
                    f"{quote(text)}, err: {quote(str(err))}"
                ) from None
        return Community.legacy(*values)
    if len(fields) == 4:
        if fields[0] != "large":
            raise CommunityError(
                "invalid community value: invalid marker for large community, expected community "
                "to be of format large:<uint32>:<uint32>:<uint32> but got "
                f"{quote(text)} instead"
            )
        values = []
        for part in fields[1:]:
            try:
                values.append(_go_parse_uint(part, 32))
            except ValueError as err:
                raise CommunityError(
                    f"invalid community value: invalid section {quote(part)} of community "
                    f"{quote(text)}, err: {quote(str(err))}"
                ) from None
        return Community.large_of(*values)
    raise CommunityError(f"invalid community format: {text}")
