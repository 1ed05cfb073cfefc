"""The L2 service: ARP and NDP responder with gratuitous announcements."""
