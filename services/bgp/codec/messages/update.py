"""UPDATE (RFC 4271 §4.3): Withdrawn Routes Length (2), Withdrawn Routes, Total Path Attribute
Length (2), Path Attributes, NLRI (the rest).

Classic Withdrawn Routes and NLRI are IPv4 unicast; other families travel in MP_REACH_NLRI /
MP_UNREACH_NLRI attributes (RFC 4760). Checks, RFC 4271 §6.3: the two length fields must fit in
the message (Malformed Attribute List); the attribute list rules in attributes/__init__.py; a
prefix that is syntactically wrong is an Invalid Network Field; if the UPDATE announces routes,
ORIGIN and AS_PATH must be present, and NEXT_HOP too when the classic NLRI field is non-empty
(RFC 4760 §3 lifts it for MP_REACH-only updates): Missing Well-known Attribute, data = its type.

RFC 7606 revises the attribute rules: a missing well-known attribute (§3 d) and most malformed
attributes make the UPDATE treat-as-withdraw, a few are discarded (attributes/revised.py). The
decoded UPDATE then carries them in `issues`, and `treat_as_withdraw` says whether its routes
(classic NLRI and MP_REACH_NLRI) must be handled as withdrawn. The length fields, the NLRI
syntax (§5.3) and MP_* errors still raise (session reset).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar, Self

from ..attributes import (
    AsPath,
    AttributeIssue,
    ErrorAction,
    MpReachNlri,
    MpUnreachNlri,
    NextHop,
    Origin,
    PathAttribute,
    decode_attribute_list,
    encode_attributes,
    find,
)
from ..attributes.base import AttrType
from ..errors import BGPEncodeError, BGPNotificationError, UpdateSubcode, update_error
from ..header import MessageType
from ..negotiated import AFI, Negotiated
from ..prefixes import Prefix, decode_prefixes, encode_prefixes
from .base import Message


def _invalid_network(why: str) -> Exception:
    return update_error(UpdateSubcode.INVALID_NETWORK_FIELD, b"", why)


@dataclass(frozen=True)
class Update(Message):
    TYPE: ClassVar[MessageType] = MessageType.UPDATE
    withdrawn: tuple[Prefix, ...] = ()  # IPv4 (RFC 4760 carries the others)
    attributes: tuple[PathAttribute, ...] = ()
    nlri: tuple[Prefix, ...] = ()  # IPv4
    #: Attribute types sent with Extended Length although their value is short (FRR does this
    #: for AS_PATH, FRR and BIRD for MP_REACH_NLRI). A wire detail kept only so that a received
    #: UPDATE re-encodes to the same bytes; not part of equality.
    extended_length: frozenset[int] = field(default=frozenset(), compare=False, repr=False)
    #: Malformed attributes handled by RFC 7606 instead of a reset (only on a received UPDATE).
    issues: tuple[AttributeIssue, ...] = field(default=(), compare=False)

    @property
    def treat_as_withdraw(self) -> bool:
        """RFC 7606 §2: the routes this UPDATE announces must be handled as withdrawn."""
        return any(i.action == ErrorAction.TREAT_AS_WITHDRAW for i in self.issues)

    def announced(self) -> tuple[Prefix, ...]:
        """Every prefix announced: the classic NLRI then MP_REACH_NLRI's."""
        reach = find(self.attributes, MpReachNlri)
        return self.nlri + (reach.nlri if reach is not None else ())

    def withdrawn_all(self) -> tuple[Prefix, ...]:
        """Every prefix withdrawn: the classic field then MP_UNREACH_NLRI's."""
        unreach = find(self.attributes, MpUnreachNlri)
        return self.withdrawn + (unreach.withdrawn if unreach is not None else ())

    def encode_body(self, ctx: Negotiated) -> bytes:
        withdrawn = encode_prefixes(self.withdrawn, AFI.IPV4)
        attrs = encode_attributes(self.attributes, ctx, self.extended_length)
        if len(withdrawn) > 0xFFFF or len(attrs) > 0xFFFF:
            raise BGPEncodeError("UPDATE field too long")
        return (
            len(withdrawn).to_bytes(2, "big")
            + withdrawn
            + len(attrs).to_bytes(2, "big")
            + attrs
            + encode_prefixes(self.nlri, AFI.IPV4)
        )

    @classmethod
    def decode_body(cls, body: bytes, ctx: Negotiated) -> Self:
        malformed = UpdateSubcode.MALFORMED_ATTRIBUTE_LIST
        if len(body) < 4:
            raise update_error(malformed, b"", f"UPDATE body of {len(body)} < 4 octets")
        wlen = int.from_bytes(body[0:2], "big")
        if 2 + wlen + 2 > len(body):  # §6.3: Withdrawn Routes Length too large
            raise update_error(malformed, b"", f"withdrawn routes length {wlen}")
        withdrawn = decode_prefixes(body[2 : 2 + wlen], AFI.IPV4, _invalid_network)
        alen = int.from_bytes(body[2 + wlen : 4 + wlen], "big")
        if 4 + wlen + alen > len(body):  # §6.3: Total Attribute Length too large
            raise update_error(malformed, b"", f"total path attribute length {alen}")
        attributes, extended, issues = decode_attribute_list(body[4 + wlen : 4 + wlen + alen], ctx)
        nlri = decode_prefixes(body[4 + wlen + alen :], AFI.IPV4, _invalid_network)
        update = cls(withdrawn, attributes, nlri, extended, issues)
        if not update.treat_as_withdraw:
            try:
                update.check_mandatory()
            except BGPNotificationError as missing:  # RFC 7606 §3 d: treat-as-withdraw
                code = missing.data[0] if missing.data else 0
                issue = AttributeIssue(ErrorAction.TREAT_AS_WITHDRAW, code, missing)
                update = replace(update, issues=(*issues, issue))
        return update

    def check_mandatory(self) -> None:
        """§6.3 / RFC 4760 §3: well-known mandatory attributes of an UPDATE with routes."""
        announces = bool(self.nlri) or find(self.attributes, MpReachNlri) is not None
        if not announces:
            return
        required: list[tuple[int, type[PathAttribute]]] = [
            (AttrType.ORIGIN, Origin),
            (AttrType.AS_PATH, AsPath),
        ]
        if self.nlri:
            required.append((AttrType.NEXT_HOP, NextHop))
        for code, kind in required:
            if find(self.attributes, kind) is None:
                raise update_error(
                    UpdateSubcode.MISSING_WELL_KNOWN_ATTRIBUTE, bytes([code]), f"no type {code}"
                )
