"""Revised error handling for received UPDATEs (RFC 7606): which action a malformed attribute gets.

RFC 4271 §6.3 resets the session for any malformed attribute; RFC 7606 keeps the session up
where the rest of the UPDATE can still be parsed reliably:
- **treat-as-withdraw** (§2): the UPDATE's routes (classic NLRI and MP_REACH_NLRI) are handled
  as if withdrawn; the default for a malformed attribute (§3 c, §3 d, §4, §7.1–7.5, §7.8;
  RFC 8092 §6 for LARGE_COMMUNITY);
- **attribute discard** (§2): the attribute is dropped, the UPDATE goes on: ATOMIC_AGGREGATE
  and AGGREGATOR with a bad value (§7.6, §7.7), AS4_* (RFC 6793 §6), a repeated attribute
  other than MP_* (§3 g);
- **session reset** still, with the RFC 4271 NOTIFICATION unchanged: a malformed MP_REACH_NLRI
  or MP_UNREACH_NLRI (§7.11: the NLRI cannot be located; "AFI/SAFI disable" is not
  implemented), either of them repeated (§3 g), an MP_* attribute overrunning the attribute
  list, Withdrawn Routes / Total Attribute Length too large, a syntactically wrong NLRI field
  (§5.3), and an unrecognised well-known attribute (RFC 4271 §6.3, not revised by RFC 7606).

Each non-fatal problem is kept as an `AttributeIssue` holding the NOTIFICATION RFC 4271 would
have sent, so that counters and logs can say exactly what was wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..errors import BGPNotificationError, UpdateSubcode, describe
from .base import AttrType


class ErrorAction(Enum):
    """RFC 7606 §2 approaches short of a session reset (which stays an exception)."""

    ATTRIBUTE_DISCARD = "attribute_discard"
    TREAT_AS_WITHDRAW = "treat_as_withdraw"


@dataclass(frozen=True)
class AttributeIssue:
    """One malformed attribute handled without a reset, and what RFC 4271 would have sent."""

    action: ErrorAction
    type_code: int
    error: BGPNotificationError

    def __str__(self) -> str:
        """Short enough for a log line whatever the peer sent (the data is cut to 32 octets)."""
        e = self.error
        data = e.data[:32].hex() + ("..." if len(e.data) > 32 else "")
        what = describe(e.code, e.subcode)
        return f"{self.action.value} (type {self.type_code}): {what}: {e.reason} data={data}"


#: Types whose malformed value loses only the attribute (RFC 7606 §7.6, §7.7).
DISCARD_ON_BAD_VALUE = frozenset({AttrType.ATOMIC_AGGREGATE, AttrType.AGGREGATOR})
#: Types whose malformation makes the NLRI impossible to locate (RFC 7606 §7.11, §3 g).
MP_TYPES = frozenset({AttrType.MP_REACH_NLRI, AttrType.MP_UNREACH_NLRI})


def action_for(type_code: int, error: BGPNotificationError) -> ErrorAction | None:
    """The RFC 7606 action for `error` raised by attribute `type_code`; None: session reset."""
    if type_code in MP_TYPES:
        return None  # §7.11: session reset (AFI/SAFI disable is not implemented)
    if error.subcode == UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE:
        return None  # RFC 4271 §6.3, not revised by RFC 7606
    if error.subcode == UpdateSubcode.ATTRIBUTE_FLAGS_ERROR:
        return ErrorAction.TREAT_AS_WITHDRAW  # §3 c
    if type_code in DISCARD_ON_BAD_VALUE:
        return ErrorAction.ATTRIBUTE_DISCARD
    return ErrorAction.TREAT_AS_WITHDRAW


__all__ = ["DISCARD_ON_BAD_VALUE", "MP_TYPES", "AttributeIssue", "ErrorAction", "action_for"]
