"""The node role: what this node announces over L2 and BGP, sent to its local services."""
