"""Unnumbered BGP peering (MetalLB's BGPPeer `interface`): learning the neighbour on a link.

Sans-I/O pieces: `ra` (Router Solicitation / Advertisement codec, RFC 4861 §4.1-4.2) and
`tracker` (the neighbour-learning state machine, fed with events and time). Thin I/O around
them: `netlink` (links, addresses and the neighbour cache through pyroute2), `radv` (the raw
ICMPv6 socket) and `links` (the asyncio adapter the speaker talks to).
"""
