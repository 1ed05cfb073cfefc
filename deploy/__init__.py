"""Deployment tooling: the CRD generator (`python3 -m deploy.crdgen`) and the image's probe."""
