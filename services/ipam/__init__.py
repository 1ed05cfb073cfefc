"""The IPAM service: MetalLB's controller allocator behind `metallb.ipam.v1.IPAMService`."""
