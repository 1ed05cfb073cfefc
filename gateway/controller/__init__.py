"""The controller role: MetalLB's controller (allocation and Service status), over the IPAM API."""
