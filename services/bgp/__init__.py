"""The BGP service: a BGP-4 speaker of our own (RFC 4271, 4760, 6793, 1997, 8092, 4724, 2385)."""
