"""MetalLB's rules, in one pure package: the only place they live.

The configuration model and its validation (behaviour reference §2), the Service's annotations
(§1.2), the announcement decisions (§3, §4.2), communities, durations with Go's formatting,
label selectors, pools and addresses. Nothing here does I/O: no grpc, asyncio, kubernetes or
sockets (an import-linter contract enforces it). The gateway, the webhook, `reconcile` and the
services all call these functions; none keeps a second copy.
"""
