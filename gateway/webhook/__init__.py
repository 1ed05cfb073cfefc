"""The validating admission webhooks MetalLB serves (behaviour reference §2.4)."""
