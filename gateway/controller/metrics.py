"""The controller's `metallb_k8s_client_*` metrics (behaviour reference §6)."""

from prometheus_client import CollectorRegistry, Counter, Gauge


class ClientMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.updates = Counter(
            "metallb_k8s_client_updates_total",
            "Number of k8s object updates that have been processed.",
            registry=self.registry,
        )
        self.update_errors = Counter(
            "metallb_k8s_client_update_errors_total",
            "Number of k8s object updates that failed for some reason.",
            registry=self.registry,
        )
        self.config_loaded = Gauge(
            "metallb_k8s_client_config_loaded_bool",
            "1 if the MetalLB configuration was successfully loaded at least once.",
            registry=self.registry,
        )
        self.config_stale = Gauge(
            "metallb_k8s_client_config_stale_bool",
            "1 if running on a stale configuration, because the latest config failed to load.",
            registry=self.registry,
        )
        self.writes = WriteMetrics(self.registry)


class WriteMetrics:
    """The controller's status writes (ours, not MetalLB's: MetalLB logs a failed status update
    and retries it forever; we drop one the API refuses for good, and count both)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.errors = Counter(
            "metallb_k8s_client_write_errors_total",
            "Number of status writes (Service, IPAddressPool, ConfigurationState) that failed.",
            ["kind"],
            registry=registry,
        )
        self.dropped = Counter(
            "metallb_k8s_client_dropped_writes_total",
            "Number of status writes given up after failing for good (tried again later).",
            ["kind"],
            registry=registry,
        )
        self.failing = Gauge(
            "metallb_k8s_client_failing_writes",
            "Number of objects whose status writes are failing.",
            registry=registry,
        )
