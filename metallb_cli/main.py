"""The `metallb-grpc` command: one subcommand per server.

Default gRPC ports: ipam 50051, bgp 50052, bfd 50053, l2 50054; metrics on 9120 + the same
offset. Each service describes its subcommand in `services/<name>/main.py` (a `ServiceCommand`).
"""

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry

from gateway.controller.app import ControllerOptions, run_controller
from gateway.kube.client import KubeconfigError
from gateway.kube.webhook_certs import CERT_SERVICE_NAME, WEBHOOK_SECRET
from gateway.manifests import ManifestError, load
from gateway.node.app import NodeOptions, run_node
from gateway.reconcile import reconcile_once
from metallb_cli.explain import Facts, explain
from metallb_cli.facts_readers import read_cluster_facts, read_folder_facts
from metallb_cli.render import render_report
from metallb_cli.status import render_status, status_summary, up_summary
from metallb_runtime.admission import DEFAULT_CALL_WAIT, DEFAULT_MAX_CALLS
from metallb_runtime.commands import ServiceCommand
from metallb_runtime.limits import (
    DEFAULT_MAX_STREAMS,
    DEFAULT_MAX_STREAMS_PER_CLIENT,
    positive_int,
)
from metallb_runtime.runtime import return_large_blocks, tune_gc
from metallb_runtime.server import (
    Server,
    parse_host_port,
    parse_listen,
    run_until_signalled,
    start_metrics,
    stop_on_signals,
)
from metallb_runtime.transport import (
    DEFAULT_MAX_MESSAGE_BYTES,
    ClientTLS,
    ServerTransport,
    add_client_tls_arguments,
    client_tls_from_arguments,
    private_directory,
)
from services.bfd.main import COMMAND as BFD
from services.bgp.main import COMMAND as BGP
from services.ipam.main import COMMAND as IPAM
from services.ipam.service import ipam_binding
from services.l2.main import COMMAND as L2

COMMANDS: dict[str, ServiceCommand] = {c.name: c for c in (IPAM, BGP, BFD, L2)}

LOG_LEVELS = ("debug", "info", "warning", "error")

log = logging.getLogger("metallb_cli.main")


def _listen(value: str) -> str:
    try:
        parse_listen(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value


def _optional_listen(value: str) -> str:
    return _listen(value) if value else value


def _metrics(value: str) -> str:
    if value:
        try:
            parse_host_port(value)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return value


def _add_gateway_options(parser: argparse.ArgumentParser, *, listen: str, metrics: str) -> None:
    """What both gateway roles take: their source, namespace, class, health and metrics."""
    parser.add_argument("--manifests", type=Path, help="serve this folder instead of Kubernetes")
    parser.add_argument(
        "--kubeconfig",
        help="kubeconfig file (default, as kubectl: $KUBECONFIG, in-cluster, ~/.kube/config)",
    )
    parser.add_argument(
        "--namespace", default=os.environ.get("METALLB_NAMESPACE", "metallb-system")
    )
    parser.add_argument("--lb-class", default="", help="handle only this loadBalancerClass")
    parser.add_argument(
        "--listen",
        type=_listen,
        default=listen,
        help="grpc.health.v1 address for probes (default %(default)s)",
    )
    parser.add_argument("--metrics-listen", type=_metrics, default=metrics)
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    _add_client_tls_options(parser)


def _add_client_tls_options(parser: argparse.ArgumentParser) -> None:
    """How a client reaches the services: TLS and mutual TLS (metallb_runtime/transport.py)."""
    add_client_tls_arguments(parser)


def client_tls(args: argparse.Namespace) -> ClientTLS:
    return client_tls_from_arguments(args)


def default_socket_dir() -> Path:
    """Where `up` puts its sockets: $XDG_RUNTIME_DIR/metallb-grpc (a user's own runtime
    folder), else /run/metallb-grpc for root, else /tmp/metallb-grpc-UID (checked to be ours)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "metallb-grpc"
    if os.geteuid() == 0:
        return Path("/run/metallb-grpc")
    return Path(tempfile.gettempdir()) / f"metallb-grpc-{os.geteuid()}"


def _add_transport_options(parser: argparse.ArgumentParser) -> None:
    """A server's transport: TLS and mutual TLS, socket group, size limit, read-only listener."""
    group = parser.add_argument_group("transport security")
    group.add_argument("--tls-cert", type=Path, help="serve TLS with this certificate (PEM)")
    group.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM)")
    group.add_argument(
        "--tls-client-ca",
        type=Path,
        help="mutual TLS: accept only clients whose certificate this CA signed",
    )
    group.add_argument(
        "--socket-group",
        help="a unix socket gets mode 0660 and this group (default: mode 0600, owner only)",
    )
    group.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        help="largest request or response (default %(default)s)",
    )
    group.add_argument(
        "--max-calls",
        type=positive_int,
        default=DEFAULT_MAX_CALLS,
        help="calls reading or running their request at once, all clients together; the "
        "others wait, their message unread (default %(default)s)",
    )
    group.add_argument(
        "--call-wait",
        type=float,
        default=DEFAULT_CALL_WAIT,
        metavar="SECONDS",
        help="how long a call waits for --max-calls before RESOURCE_EXHAUSTED "
        "(default %(default)s)",
    )
    group.add_argument(
        "--max-streams",
        type=int,
        default=DEFAULT_MAX_STREAMS,
        help="Watch streams open at once, all clients together (default %(default)s)",
    )
    group.add_argument(
        "--max-streams-per-client",
        type=int,
        default=DEFAULT_MAX_STREAMS_PER_CLIENT,
        help="Watch streams open at once per client: its TLS certificate, else its IP "
        "address (default %(default)s)",
    )
    group.add_argument(
        "--read-only-listen",
        type=_optional_listen,
        default="",
        help="a second address serving only Get/List/Watch, health and reflection",
    )


def server_transport(args: argparse.Namespace) -> ServerTransport:
    try:
        return ServerTransport(
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            client_ca=args.tls_client_ca,
            socket_group=args.socket_group,
            max_message_bytes=args.max_message_bytes,
            max_streams=args.max_streams,
            max_streams_per_client=args.max_streams_per_client,
            max_calls=args.max_calls,
            call_wait=args.call_wait,
        )
    except ValueError as err:
        raise SystemExit(f"metallb-grpc {args.command}: {err}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metallb-grpc",
        description="MetalLB's load balancer for bare-metal Kubernetes, as gRPC services.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS.values():
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        p.add_argument(
            "--listen",
            type=_listen,
            default=command.default_listen,
            help="gRPC address: HOST:PORT or unix:/path (default %(default)s)",
        )
        p.add_argument(
            "--metrics-listen",
            type=_metrics,
            default=command.default_metrics,
            help="Prometheus metrics HOST:PORT; empty disables (default %(default)s)",
        )
        p.add_argument(
            "--grace",
            type=float,
            default=5.0,
            help="seconds to drain calls on SIGTERM (default %(default)s)",
        )
        p.add_argument("--log-level", choices=LOG_LEVELS, default="info")
        _add_transport_options(p)
        if command.add_arguments is not None:
            command.add_arguments(p)
    gw = sub.add_parser(
        "gateway", help="the gateway: Kubernetes (or a manifests folder) in, RPCs out"
    )
    roles = gw.add_subparsers(dest="role", required=True, metavar="ROLE")
    ctl = roles.add_parser(
        "controller",
        help="one per cluster: allocation through IPAM, Service status",
        description="The controller role: MetalLB's controller over the IPAM service. With "
        "--manifests it serves a folder of manifests (status written beside it); otherwise "
        "it watches Kubernetes and runs while it holds the leader Lease.",
    )
    ctl.add_argument(
        "--ipam",
        type=_listen,
        default="127.0.0.1:50051",
        help="IPAM service address (default %(default)s)",
    )
    _add_gateway_options(ctl, listen="127.0.0.1:50050", metrics="127.0.0.1:9120")
    ctl.add_argument(
        "--pod-name",
        dest="identity",
        default=os.environ.get("METALLB_POD_NAME", socket.gethostname()),
        help="leader-election identity (default: $METALLB_POD_NAME or the host name)",
    )
    ctl.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="in Kubernetes, run only while holding the controller Lease (default: on)",
    )
    ctl.add_argument(
        "--webhook-listen",
        type=_metrics,
        default="",
        help="serve the validating webhooks (HTTPS) on HOST:PORT, e.g. 0.0.0.0:9443 (default: off)",
    )
    ctl.add_argument(
        "--webhook-cert-dir",
        default="/tmp/k8s-webhook-server/serving-certs",
        help="folder holding tls.crt and tls.key for the webhooks, read with "
        "--disable-cert-rotation or --manifests (default %(default)s)",
    )
    ctl.add_argument(
        "--disable-cert-rotation",
        action="store_true",
        help="do not create, renew or inject the webhook certificate; serve the one in "
        "--webhook-cert-dir instead",
    )
    ctl.add_argument(
        "--cert-service-name",
        default=CERT_SERVICE_NAME,
        help="the webhook Service: the certificate is for <name>.<namespace>.svc "
        "(default %(default)s)",
    )
    ctl.add_argument(
        "--webhook-secret",
        default=WEBHOOK_SECRET,
        help="the Secret holding the webhook CA and certificate (default %(default)s)",
    )
    ctl.add_argument(
        "--webhook-secret-namespace",
        default="",
        help="the namespace of --webhook-secret (default: --namespace); a namespace of its own "
        "keeps the CA's key from whoever may read the MetalLB namespace's Secrets",
    )
    up = sub.add_parser(
        "up",
        help="the embedded default: every service and gateway role for one node, on a folder",
        description="Run the IPAM, BGP, BFD and L2 services and both gateway roles for one "
        "node, in one process, over a folder of manifests (status is written under "
        "DIR/.status). Without root, BGP and L2 say why they cannot start, and allocation "
        "still works.",
    )
    up.add_argument("--manifests", type=Path, required=True, help="folder of YAML manifests")
    up.add_argument("--node", default=socket.gethostname(), help="this node's name")
    up.add_argument(
        "--socket-dir",
        type=Path,
        help="the private folder (mode 0700) of every service's unix socket (default: "
        "$XDG_RUNTIME_DIR/metallb-grpc, else /run/metallb-grpc as root, else "
        "/tmp/metallb-grpc-UID)",
    )
    up.add_argument(
        "--socket-group",
        help="let this group call the services too: the folder gets mode 0710 and the sockets "
        "0660, with this group (default: owner only)",
    )
    up.add_argument(
        "--ipam-listen",
        type=_optional_listen,
        default="",
        help="IPAM listens here (e.g. 127.0.0.1:50051, plaintext: any local user can call it) "
        "instead of SOCKET_DIR/ipam.sock",
    )
    up.add_argument("--metrics-listen", type=_metrics, default="127.0.0.1:9120")
    up.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    tls = up.add_argument_group(
        "TLS on the services (IPAM, L2, BGP, BFD; BGP calls BFD with the client flags below); "
        "their certificate must name localhost, the name a unix socket's client checks"
    )
    tls.add_argument("--tls-cert", type=Path, help="serve TLS with this certificate (PEM)")
    tls.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM)")
    tls.add_argument(
        "--tls-client-ca",
        type=Path,
        help="mutual TLS: accept only clients whose certificate this CA signed",
    )
    _add_client_tls_options(up)
    node = roles.add_parser(
        "node",
        help="one per node: what this node announces, sent to its L2 and BGP services",
        description="The node role: L2 ownership and BGP announcements for this node, kept in "
        "its L2 and BGP services. With --manifests it serves a folder of manifests; otherwise "
        "it watches Kubernetes and renews this node's liveness Lease.",
    )
    node.add_argument(
        "--node",
        required=True,
        default=os.environ.get("METALLB_NODE_NAME"),
        help="this node's name (MetalLB's --node-name)",
    )
    node.add_argument("--l2", type=_listen, help="the L2 service address (omit: no L2)")
    node.add_argument("--bgp", type=_listen, help="the BGP service address (omit: no BGP)")
    node.add_argument(
        "--bfd",
        type=_listen,
        help="the BFD service address: BFD sessions to the other speakers decide L2 liveness "
        "(omit: Leases alone, docs/l2.md)",
    )
    node.add_argument(
        "--bfd-profile",
        default="",
        help="the BFDProfile for the sessions between speakers (default: 50 ms x 3)",
    )
    node.add_argument(
        "--liveness",
        choices=["bfd", "lease"],
        default="bfd",
        help="bfd: BFD, Leases and fencing (needs --bfd); lease: Leases alone, the old way",
    )
    node.add_argument(
        "--handoff",
        type=float,
        default=1.0,
        help="at most this many seconds an address is still answered after another node "
        "became its owner (it stops as soon as it sees that node announce it)",
    )
    _add_gateway_options(node, listen="127.0.0.1:50055", metrics="127.0.0.1:9125")
    rec = sub.add_parser(
        "reconcile",
        help="one pass over a manifests folder: print what would be allocated and announced",
        description="Run one reconcile pass over a folder of manifests (MetalLB's rules over an "
        "in-memory allocator, as IPAM runs them for the controller) and print the result; "
        "writes nothing. Exit status 0 when the configuration is valid, "
        "1 when it is not.",
    )
    rec.add_argument("--manifests", type=Path, required=True, help="folder of YAML manifests")
    rec.add_argument("--node", help="also compute this node's L2 and BGP announcements")
    rec.add_argument("--output", choices=["json"], default="json")
    rec.add_argument("--lb-class", default="", help="handle only this loadBalancerClass")
    rec.add_argument("--log-level", choices=LOG_LEVELS, default="warning")
    ex = sub.add_parser(
        "explain",
        help="follow one Service through every link and say where the chain breaks",
        description="Follow a Service from its type and class through the configuration, the "
        "pool, its addresses and, per address, the L2 election and responder and the BGP "
        "sessions and routes, with MetalLB's own rules and what the nodes publish; say where "
        "the chain breaks and what to do. Against the cluster (kubeconfig as kubectl finds "
        "it), or with --manifests against `metallb-grpc up`'s folder. Exit status 0 when "
        "nothing is broken, 1 otherwise.",
    )
    ex.add_argument("service", metavar="NAMESPACE/NAME")
    _add_reader_options(ex)
    st = sub.add_parser(
        "status",
        help="pools, BGP peers, BFD, L2 announcements and configuration at a glance",
        description="One screen: pool use per family, BGP sessions per node (as birdc show "
        "protocols), BFD sessions, L2 announcements and each component's configuration state. "
        "Against the cluster, or with --manifests against `metallb-grpc up`'s folder.",
    )
    _add_reader_options(st)
    return parser


def _add_reader_options(parser: argparse.ArgumentParser) -> None:
    """Where `explain` and `status` read from, how they print, and --watch."""
    parser.add_argument(
        "--manifests", type=Path, help="read `metallb-grpc up`'s folder instead of a cluster"
    )
    parser.add_argument(
        "--kubeconfig",
        help="kubeconfig file (default, as kubectl: $KUBECONFIG, in-cluster, ~/.kube/config)",
    )
    parser.add_argument(
        "--namespace", default=os.environ.get("METALLB_NAMESPACE", "metallb-system")
    )
    parser.add_argument("--lb-class", default="", help="the loadBalancerClass MetalLB handles")
    parser.add_argument("-o", "--output", choices=["text", "json"], default="text")
    parser.add_argument(
        "--watch", action="store_true", help="read again every --interval seconds; print changes"
    )
    parser.add_argument("--interval", type=float, default=2.0, help="(default %(default)s)")
    parser.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="colour the text output (default: on a terminal only)",
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="warning")


async def _start_optional(name: str, server: Server) -> Server | None:
    """Start a node-side service; without the privileges it needs, say so and go on."""
    try:
        await server.start()
        return server
    except OSError as err:  # PermissionError among them (the L2 service names CAP_NET_RAW)
        log.error(
            "%s: cannot start (%s); it needs root or its capabilities (L2: CAP_NET_RAW). "
            "Allocation still works; %s announcements are off.",
            name,
            err,
            name,
        )
        with contextlib.suppress(Exception):
            await server.stop()
        return None


def up_service_arguments(name: str, run_dir: Path, bfd: str, tls: ClientTLS) -> list[str]:
    """The command line `up` runs a node-side service with: its socket in `run_dir` and, for
    BGP, the BFD service at `bfd` reached with the TLS every other client of `up` uses."""
    argv = [name, "--listen", f"unix:{run_dir}/{name}.sock"]
    if bfd:
        argv += ["--bfd", bfd]
        for flag, path in (
            ("--bfd-tls-ca", tls.ca),
            ("--bfd-tls-client-cert", tls.cert),
            ("--bfd-tls-client-key", tls.key),
        ):
            if path is not None:
                argv += [flag, str(path)]
    return argv


async def _up(args: argparse.Namespace) -> int:
    """Every service on a unix socket in a folder only this user can enter (so only this user,
    or root, can call SetPools or RestoreAllocations); each socket's path is printed."""
    if not args.manifests.is_dir():
        print(f"metallb-grpc up: {args.manifests} is not a folder", file=sys.stderr)
        return 2
    try:  # validated before anything starts
        transport = ServerTransport(
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            client_ca=args.tls_client_ca,
            socket_group=args.socket_group,
        )
    except ValueError as err:
        raise SystemExit(f"metallb-grpc up: {err}") from None
    tls = client_tls(args)
    run_dir = private_directory(args.socket_dir or default_socket_dir(), args.socket_group)
    registry = CollectorRegistry()
    parser = build_parser()
    servers: dict[str, Server] = {}
    try:
        ipam_listen = args.ipam_listen or f"unix:{run_dir}/ipam.sock"
        ipam = Server(
            [ipam_binding(registry)], ipam_listen, registry=registry, grace=2.0, transport=transport
        )
        await ipam.start()
        servers["ipam"] = ipam
        for name in (n for n in ("bfd", "bgp", "l2") if n in COMMANDS):
            bfd = servers["bfd"].address if name == "bgp" and "bfd" in servers else ""
            sub = parser.parse_args(up_service_arguments(name, run_dir, bfd, tls))
            bindings = COMMANDS[name].bindings(sub, registry)
            started = await _start_optional(
                name,
                Server(bindings, sub.listen, registry=registry, grace=2.0, transport=transport),
            )
            if started is not None:
                servers[name] = started
        for service, server in servers.items():
            print(f"{service}: {server.address}", flush=True)
        start_metrics(args.metrics_listen, registry)
        stop = asyncio.Event()
        stop_on_signals(stop)
        roles = [
            run_controller(
                ControllerOptions(
                    ipam=ipam.address,
                    listen=f"unix:{run_dir}/controller.sock",
                    manifests=args.manifests,
                    identity=args.node,
                    tls=tls,
                ),
                stop,
            ),
            run_node(
                NodeOptions(
                    node=args.node,
                    listen=f"unix:{run_dir}/node.sock",
                    l2=servers["l2"].address if "l2" in servers else "",
                    bgp=servers["bgp"].address if "bgp" in servers else "",
                    manifests=args.manifests,
                    tls=tls,
                ),
                stop,
            ),
        ]
        summary = asyncio.create_task(
            _print_up_summary(args, {n: s.address for n, s in servers.items()}, stop)
        )
        try:
            await asyncio.gather(*roles)
        finally:
            summary.cancel()
    finally:
        for server in reversed(list(servers.values())):
            await server.stop()
    return 0


def _read_facts(args: argparse.Namespace) -> Facts:
    if args.manifests is not None:
        if not args.manifests.is_dir():
            raise ManifestError(f"{args.manifests} is not a folder")
        return read_folder_facts(args.manifests, args.namespace, args.lb_class)
    return read_cluster_facts(args.kubeconfig, args.namespace, args.lb_class)


def _show(args: argparse.Namespace) -> tuple[str, bool]:
    """(what to print, whether it is all well) for `explain` or `status`, read once."""
    facts = _read_facts(args)
    colour = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    width = min(shutil.get_terminal_size((100, 24)).columns, 100)
    if args.command == "explain":
        report = explain(facts, args.service)
        if args.output == "json":
            text = json.dumps(report.to_json(), indent=None if args.watch else 2)
            return text, report.breaks is None
        return render_report(report, width=width, colour=colour), report.breaks is None
    summary = status_summary(facts)
    if args.output == "json":
        return json.dumps(summary.to_json(), indent=None if args.watch else 2), summary.healthy
    return render_status(summary, width=width, colour=colour), summary.healthy


def _explain_or_status(args: argparse.Namespace) -> int:
    """Print once; with --watch, print again whenever the output changes (Ctrl-C ends it)."""
    text, well = _show(args)
    print(text.rstrip("\n"), flush=True)
    if not args.watch:
        return 0 if well or args.command == "status" else 1
    try:
        while True:
            time.sleep(args.interval)  # polling a cluster or a folder: the interval is the point
            fresh, _ = _show(args)
            if fresh != text:
                text = fresh
                if sys.stdout.isatty() and args.output == "text":
                    print("\033[H\033[2J", end="")
                print(text.rstrip("\n"), flush=True)
    except KeyboardInterrupt:
        return 0


async def _print_up_summary(
    args: argparse.Namespace, sockets: dict[str, str], stop: asyncio.Event
) -> None:
    """Once the controller has made its first pass (its ConfigurationState is written), print
    what `up` holds and the commands to try (metallb_cli/status.py `up_summary`)."""
    written = args.manifests / ".status" / "configurationstates" / "controller.yaml"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while not written.exists() and loop.time() < deadline and not stop.is_set():
        await asyncio.sleep(0.2)  # polling the folder: the controller writes it from a thread
    if stop.is_set():
        return
    await asyncio.sleep(1.0)  # let the node role publish its first facts (peers' states)
    facts = await asyncio.to_thread(read_folder_facts, args.manifests)
    summary = status_summary(facts)
    services = {
        key: [
            str(i.get("ip"))
            for i in (obj.get("status") or {}).get("loadBalancer", {}).get("ingress") or []
        ]
        for key, obj in facts.snapshot.objects.get("Service", {}).items()
    }
    peers = {
        str((p.get("metadata") or {}).get("name")): str((p.get("spec") or {}).get("peerAddress"))
        for p in facts.snapshot.of("BGPPeer")
    }
    text = up_summary(
        summary,
        folder=str(args.manifests),
        node=args.node,
        sockets=sockets,
        services={k: v for k, v in services.items() if v},
        peers=peers,
    )
    print(text, end="", flush=True)


def _reconcile(args: argparse.Namespace) -> int:
    valid, report = reconcile_once(load(args.manifests), args.node, args.lb_class)
    print(json.dumps(report, indent=2))
    return 0 if valid else 1


async def _serve(command: ServiceCommand, args: argparse.Namespace) -> None:
    registry = CollectorRegistry()
    bindings = command.bindings(args, registry)
    server = Server(
        bindings,
        args.listen,
        registry=registry,
        grace=args.grace,
        transport=server_transport(args),
        read_only_listen=args.read_only_listen,
    )
    await run_until_signalled(server, args.metrics_listen)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    tune_gc()
    return_large_blocks()
    try:
        if args.command == "reconcile":
            return _reconcile(args)
        if args.command in ("explain", "status"):
            return _explain_or_status(args)
        if args.command == "up":
            return asyncio.run(_up(args))
        if args.command == "gateway" and args.role == "node":
            asyncio.run(
                run_node(
                    NodeOptions(
                        node=args.node,
                        listen=args.listen,
                        l2=args.l2 or "",
                        bgp=args.bgp or "",
                        bfd=(args.bfd or "") if args.liveness == "bfd" else "",
                        bfd_profile=args.bfd_profile,
                        handoff=args.handoff,
                        metrics_listen=args.metrics_listen,
                        manifests=args.manifests,
                        kubeconfig=args.kubeconfig,
                        namespace=args.namespace,
                        lb_class=args.lb_class,
                        tls=client_tls(args),
                    )
                )
            )
            return 0
        if args.command == "gateway":
            asyncio.run(
                run_controller(
                    ControllerOptions(
                        ipam=args.ipam,
                        listen=args.listen,
                        metrics_listen=args.metrics_listen,
                        manifests=args.manifests,
                        kubeconfig=args.kubeconfig,
                        namespace=args.namespace,
                        lb_class=args.lb_class,
                        identity=args.identity,
                        leader_elect=args.leader_elect,
                        webhook_listen=args.webhook_listen,
                        webhook_cert_dir=args.webhook_cert_dir,
                        cert_rotation=not args.disable_cert_rotation,
                        cert_service_name=args.cert_service_name,
                        webhook_secret=args.webhook_secret,
                        webhook_secret_namespace=args.webhook_secret_namespace,
                        tls=client_tls(args),
                    )
                )
            )
            return 0
        asyncio.run(_serve(COMMANDS[args.command], args))
    except ManifestError as err:
        print(f"metallb-grpc {args.command}: {err}", file=sys.stderr)
        return 2
    except KubeconfigError as err:
        print(f"metallb-grpc {args.command}: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"metallb-grpc {args.command}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
