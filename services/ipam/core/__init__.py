"""The IPAM core: MetalLB's allocator as a pure data structure (no grpc, no asyncio, no I/O)."""
