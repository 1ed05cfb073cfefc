"""The `metallb-grpc` command line: the top layer, which may import every other.

`run` is the console script. It puts the clean-exit signal handler in place before the heavy
imports (grpc, kubernetes, the services: most of a second on a small node), so that a SIGTERM at
any moment of startup ends the process with status 0 instead of killing it (-15).
"""

from collections.abc import Sequence

from metallb_runtime.signals import end_cleanly_on_signals


def run(argv: Sequence[str] | None = None) -> int:
    end_cleanly_on_signals()
    from metallb_cli.main import main  # noqa: PLC0415 - imported once the handler is in place

    return main(argv)


def kubectl_plugin(argv: Sequence[str] | None = None) -> int:
    """`kubectl-metallb`: kubectl's plugin (`kubectl metallb explain NS/NAME`, `kubectl metallb
    status`), the same as `metallb-grpc explain` and `metallb-grpc status` against the cluster."""
    import sys  # noqa: PLC0415

    from metallb_cli.main import main  # noqa: PLC0415

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("explain", "status"):
        print("usage: kubectl metallb {explain NAMESPACE/NAME | status} [options]", file=sys.stderr)
        return 2
    return main(args)
