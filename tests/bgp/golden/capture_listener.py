"""Capture helper, not a test: a passive BGP endpoint that real daemons connect to.

Run inside the listener namespace by capture.sh (PYTHONPATH = repository root). For each
connection it reads the daemon's OPEN, answers with an OPEN of its own (iBGP when the daemon
dialled the .11 / ::11 address, eBGP AS 64512 otherwise) and a KEEPALIVE, then prints what it
decodes. On the IPv6 eBGP session it sends, after `--bad-after` seconds, a message of the
unknown type 9, to draw a Message Header Error NOTIFICATION from the daemon (a KEEPALIVE with
Length 20 was tried first: FRR answers it, BIRD 2.0.12 silently accepts it). GoBGP 3.10.0
crashes (nil pointer panic in fsmHandler.handlingError) on the unknown type, so it is sent an
UPDATE whose Total Path Attribute Length overruns the message instead. tcpdump records the
bytes; this script only keeps the sessions alive.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from ipaddress import IPv4Address, ip_address

from services.bgp.codec import (
    AFI,
    IPV4_UNICAST,
    IPV6_UNICAST,
    BGPNotificationError,
    Framer,
    Keepalive,
    Negotiated,
    Open,
    negotiate,
)
from services.bgp.codec.capabilities import (
    ExtendedNextHop,
    FourOctetAS,
    Multiprotocol,
    NextHopEntry,
    RouteRefreshCapability,
)

EBGP_AS = 64512
IBGP_ADDRESSES = {"10.77.0.11", "fd77::11"}
BAD_TYPE = b"\xff" * 16 + b"\x00\x13\x09"
# Total Path Attribute Length 5 with no attributes: Malformed Attribute List (RFC 4271 §6.3)
BAD_UPDATE = b"\xff" * 16 + b"\x00\x17\x02\x00\x00\x00\x05"


def log(peer: str, text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {peer}: {text}", flush=True)


def serve(conn: socket.socket, duration: float, bad_after: float) -> None:
    local = ip_address(conn.getsockname()[0])
    if local.version == 6 and local.ipv4_mapped is not None:
        local = local.ipv4_mapped
    peer = str(conn.getpeername()[0])
    framer = Framer()
    theirs: Open | None = None
    conn.settimeout(1.0)
    start = time.monotonic()
    established = 0.0
    last_keepalive = 0.0
    sent_bad = False
    broken = False
    while time.monotonic() - start < duration:
        try:
            data = conn.recv(65536)
        except TimeoutError:
            data = b""
        except OSError as error:
            log(peer, f"recv: {error}")
            return
        else:
            if not data:
                log(peer, "closed by peer")
                return
        if not broken:
            try:
                for message in framer.feed(data):
                    log(peer, repr(message))
                    if isinstance(message, Open) and theirs is None:
                        theirs = message
                        asn = theirs.asn if str(local) in IBGP_ADDRESSES else EBGP_AS
                        caps = [
                            Multiprotocol(IPV4_UNICAST),
                            Multiprotocol(IPV6_UNICAST),
                            RouteRefreshCapability(),
                            FourOctetAS(asn),
                        ]
                        if local.version == 6:  # IPv4 routes over IPv6 next hops (RFC 8950)
                            caps.append(ExtendedNextHop((NextHopEntry(IPV4_UNICAST, AFI.IPV6),)))
                        ibgp = str(local) in IBGP_ADDRESSES
                        router_id = IPv4Address("10.77.0.11" if ibgp else "10.77.0.10")
                        mine = Open.build(asn, 90, router_id, caps)
                        conn.sendall(mine.encode(Negotiated()) + Keepalive().encode(Negotiated()))
                        framer.negotiated = negotiate(mine, theirs)
                        established = last_keepalive = time.monotonic()
            except BGPNotificationError as error:
                log(peer, f"DECODE ERROR {error}")
                broken = True
        now = time.monotonic()
        if established and now - last_keepalive > 20:
            conn.sendall(Keepalive().encode(Negotiated()))
            last_keepalive = now
        bad_due = established and now - established > bad_after
        if bad_due and not sent_bad and str(local) == "fd77::10":
            if peer == "fd77::1":  # GoBGP 3.10 panics on an unknown message type
                log(peer, "sending an UPDATE with a bad attribute length")
                conn.sendall(BAD_UPDATE)
            else:
                log(peer, "sending a message of type 9")
                conn.sendall(BAD_TYPE)
            sent_bad = True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--bad-after", type=float, default=8.0)
    args = parser.parse_args()
    server = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    server.bind(("::", 179))
    server.listen(16)
    server.settimeout(1.0)
    deadline = time.monotonic() + args.duration
    while time.monotonic() < deadline:
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        left = deadline - time.monotonic()
        threading.Thread(target=serve, args=(conn, left, args.bad_after), daemon=True).start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
