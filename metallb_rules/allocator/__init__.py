"""MetalLB's allocator (`internal/allocator`) as a pure data structure: pools, allocations and
the sharing rules between them (behaviour reference §1.4-§1.8). No grpc, no asyncio, no I/O."""
