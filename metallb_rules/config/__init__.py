"""The gateway's configuration: metallb.io custom resources to one validated `Config`."""
