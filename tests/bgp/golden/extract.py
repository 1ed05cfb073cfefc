"""Capture helper, not a test: turn capture.sh's pcap into the golden .hex files.

For each TCP stream it joins the payload the daemon sent (in sequence order, retransmissions
dropped), cuts it into messages by the header's Length field, and writes
`<daemon>_<session>.hex`: comment lines (daemon, version, session, how captured), then one
message per line as "<TYPE> <hex>". Only the first connection of each (daemon, session) is kept.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

DAEMONS = {
    "10.77.0.1": "gobgp",
    "fd77::1": "gobgp",
    "10.77.0.2": "bird",
    "fd77::2": "bird",
    "10.77.0.3": "frr",
    "fd77::3": "frr",
}
SESSIONS = {
    "10.77.0.10": ("ebgp4", "eBGP over IPv4 to the listener at 10.77.0.10, AS 64512"),
    "10.77.0.11": ("ibgp4", "iBGP over IPv4 to the listener at 10.77.0.11, same AS"),
    "fd77::10": ("ebgp6", "eBGP over IPv6 to the listener at fd77::10, AS 64512"),
}
AS_NUMBERS = {"gobgp": 65001, "bird": 65002, "frr": 65003}
TYPES = {1: "OPEN", 2: "UPDATE", 3: "NOTIFICATION", 4: "KEEPALIVE", 5: "ROUTE-REFRESH"}


def main(pcap: str, versions_file: str, out_dir: str) -> int:
    versions = dict(
        line.split(": ", 1) for line in Path(versions_file).read_text().splitlines() if ": " in line
    )
    fields = ["tcp.stream", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.seq", "tcp.payload"]
    cmd = ["tshark", "-r", pcap, "-Y", "tcp.len > 0", "-T", "fields"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    streams: dict[tuple[int, str, str], dict[int, bytes]] = {}
    for line in out.splitlines():
        stream, src4, src6, dst4, dst6, seq, payload = line.split("\t")
        src, dst = src4 or src6, dst4 or dst6
        if src not in DAEMONS or dst not in SESSIONS:
            continue
        streams.setdefault((int(stream), src, dst), {})[int(seq)] = bytes.fromhex(payload)
    written: set[str] = set()
    for (_stream, src, dst), segments in sorted(streams.items()):
        daemon = DAEMONS[src]
        session, description = SESSIONS[dst]
        name = f"{daemon}_{session}"
        if name in written:
            continue
        written.add(name)
        data = b"".join(segments[k] for k in sorted(segments))
        lines = [
            f"# daemon: {versions[{'gobgp': 'GoBGP', 'bird': 'BIRD', 'frr': 'FRR'}[daemon]]}",
            f"# session: {daemon} AS {AS_NUMBERS[daemon]} at {src}, {description}",
            "# captured by tests/bgp/golden/capture.sh: tcpdump on the listener's veth inside "
            "network namespaces, "
            f"{time.strftime('%Y-%m-%d')}, {versions['tshark']}",
            "# messages sent by the daemon, in order; one per line: <TYPE> <hex, header included>",
        ]
        pos = 0
        while pos + 19 <= len(data):
            length = int.from_bytes(data[pos + 16 : pos + 18], "big")
            message = data[pos : pos + length]
            lines.append(f"{TYPES.get(message[18], str(message[18]))} {message.hex()}")
            pos += length
        Path(out_dir, f"{name}.hex").write_text("\n".join(lines) + "\n")
        print(f"{name}: {len(lines) - 4} messages")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
