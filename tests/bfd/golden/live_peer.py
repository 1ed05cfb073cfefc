"""Throwaway lab driver: run our sans-I/O core against a real BFD daemon (not a test).

This is how `ours-vs-*.txt` in this directory were produced (see README.md). It is a minimal,
blocking stand-in for the future asyncio adapter: one UDP socket per family on port 3784 for
reception (with IP_RECVTTL / IPV6_RECVHOPLIMIT), one sending socket per family bound to a source
port in 49152-65535 with TTL / Hop Limit 255 (RFC 5881 §4, §5), and `SessionTable` for
everything else. It prints every event with its time.

usage (inside the namespace that owns LOCAL4/LOCAL6):
    python3 -m tests.bfd.golden.live_peer IFACE LOCAL4 PEER4 LOCAL6 PEER6 SCRIPT
SCRIPT is a comma-separated list of `time:action:family` steps, action one of
admin_down, admin_up, slow (transmit 1000 ms), fast (transmit 300 ms), remove, stop.
"""

from __future__ import annotations

import select
import socket
import struct
import sys
import time
from ipaddress import IPv4Address, IPv6Address, ip_address

from services.bfd.core.session import SessionParams
from services.bfd.core.table import SessionKey, SessionTable

BFD_PORT = 3784
IP_RECVTTL = 12
IPV6_RECVHOPLIMIT = 51
IPV6_HOPLIMIT = 52


def open_sockets(local: IPv4Address | IPv6Address) -> tuple[socket.socket, socket.socket]:
    family = socket.AF_INET if local.version == 4 else socket.AF_INET6
    rx = socket.socket(family, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET:
        rx.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    else:
        rx.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
    rx.bind((str(local), BFD_PORT))
    tx = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET:
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
    else:
        tx.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
    tx.bind((str(local), 49152 + local.version))
    return rx, tx


def received_ttl(ancillary: list[tuple[int, int, bytes]]) -> int:
    """The TTL (IP_TTL cmsg) or Hop Limit (IPV6_HOPLIMIT cmsg), both a native int."""
    for level, kind, data in ancillary:
        if (level, kind) in (
            (socket.IPPROTO_IP, socket.IP_TTL),
            (socket.IPPROTO_IPV6, IPV6_HOPLIMIT),
        ):
            return int(struct.unpack("i", data[:4])[0])
    return -1


def main(argv: list[str]) -> None:
    iface, local4, peer4, local6, peer6, script = argv
    start = time.monotonic()
    table = SessionTable()
    keys = {
        "4": SessionKey(ip_address(peer4), iface),
        "6": SessionKey(ip_address(peer6), iface),
    }
    sockets = {4: open_sockets(ip_address(local4)), 6: open_sockets(ip_address(local6))}
    for key in keys.values():
        table.add(key, SessionParams(), time.monotonic())
    steps = [s.split(":") for s in script.split(",") if s]

    def log(text: str) -> None:
        print(f"{time.monotonic() - start:8.3f} {text}", flush=True)

    while True:
        now = time.monotonic()
        while steps and now - start >= float(steps[0][0]):
            _, action, fam = steps.pop(0)
            key = keys[fam]
            log(f"step {action} v{fam}")
            if action == "stop":
                return
            if action == "admin_down":
                events = table.admin_down(key, now)
            elif action == "admin_up":
                events = table.admin_up(key, now)
            elif action in ("slow", "fast"):
                interval = 1_000_000 if action == "slow" else 300_000
                events = table.update(key, SessionParams(desired_min_tx=interval), now)
            else:
                events = table.remove(key, now)
            for ev in events:
                log(f"{ev.key.peer} {ev.event}")
        for ev in table.handle_timer(now):
            log(f"{ev.key.peer} {ev.event}")
        for out in table.datagrams_to_send(now):
            _, tx = sockets[out.key.peer.version]
            tx.sendto(out.data, (str(out.key.peer), BFD_PORT))
        deadline = table.next_timer()
        wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
        if steps:
            wait = min(wait, max(0.0, start + float(steps[0][0]) - time.monotonic()))
        ready, _, _ = select.select([rx for rx, _ in sockets.values()], [], [], wait)
        for rx in ready:
            data, ancillary, _flags, addr = rx.recvmsg(512, 256)
            now = time.monotonic()
            peer = ip_address(addr[0].split("%")[0])
            for ev in table.receive_packet(data, received_ttl(ancillary), peer, iface, now):
                log(f"{ev.key.peer} {ev.event}")
            for out in table.datagrams_to_send(now):
                _, tx = sockets[out.key.peer.version]
                tx.sendto(out.data, (str(out.key.peer), BFD_PORT))


if __name__ == "__main__":
    main(sys.argv[1:])
