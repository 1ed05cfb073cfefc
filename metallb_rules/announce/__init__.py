"""What this node announces: MetalLB's speaker decisions as pure functions returning reasons."""
