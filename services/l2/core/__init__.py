"""The L2 core: ARP/NDP frames, the responder decision, interface eligibility and the
announcement table, as pure functions and data (no asyncio, sockets, pyroute2 or scapy)."""
