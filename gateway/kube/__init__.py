"""The Kubernetes source: the official `kubernetes` client, list-then-watch, status writes."""
