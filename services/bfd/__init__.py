"""The BFD service: RFC 5880/5881/5883 sessions."""
