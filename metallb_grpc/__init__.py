"""metallb-grpc: MetalLB's load balancer for bare-metal Kubernetes, as independent gRPC services.

This package holds what every service shares: the server skeleton, error mapping, label
selectors, Go-compatible text formatting, and the command line.
"""
