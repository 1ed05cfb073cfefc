"""Regenerate the checked-in Python code of `protos/` (or check that it is current).

    python -m devtools.protogen           # rewrite protos/metallb/**/*_pb2*.py[i]
    python -m devtools.protogen --check   # exit 1 and list files that are stale

The generated code is checked in so that installing needs no protoc; it is produced by the
grpcio-tools version pinned in pyproject.toml's `test` extra.
"""

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def proto_files() -> list[Path]:
    return sorted(PROTOS.glob("metallb/**/*.proto"))


def well_known_includes() -> list[str]:
    """Include paths of the imported standard protos: google/protobuf/*.proto (shipped by
    grpcio-tools) and google/rpc/*.proto (shipped by googleapis-common-protos)."""
    import google.rpc  # noqa: PLC0415 - a dev tool; the runtime needs only the generated code
    import grpc_tools  # noqa: PLC0415

    return [
        f"-I{Path(grpc_tools.__file__).parent / '_proto'}",
        f"-I{Path(next(iter(google.rpc.__path__))).parent.parent}",
    ]


def generate(out: Path) -> None:
    from grpc_tools import protoc  # noqa: PLC0415 - a test/dev dependency only

    args = [
        "protoc",
        f"-I{PROTOS}",
        *well_known_includes(),
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *(str(p) for p in proto_files()),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def generated_files(root: Path) -> set[Path]:
    return {
        p.relative_to(root)
        for p in root.glob("metallb/**/*")
        if p.is_file() and p.name.endswith(SUFFIXES)
    }


def stale_files() -> list[str]:
    """Generated files that differ from what the protos produce now (or are missing/extra)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        want, have = generated_files(fresh), generated_files(PROTOS)
        stale = [str(p) for p in sorted(want ^ have)]
        stale += [
            str(p)
            for p in sorted(want & have)
            if not filecmp.cmp(fresh / p, PROTOS / p, shallow=False)
        ]
        return stale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args()
    if args.check:
        stale = stale_files()
        for name in stale:
            print(f"stale: protos/{name}")
        return 1 if stale else 0
    generate(PROTOS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
