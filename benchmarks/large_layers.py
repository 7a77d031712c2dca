"""Time ``talosaudit scan`` on the five large first-match inputs of issue 12.

    python benchmarks/large_layers.py [--only NAME[,NAME]] [--timeout 120] [--scale 1.0] [--src DIR]

Each input is generated under a temporary folder by tests/hostile_generate.py (the same
generators the regression tests in tests/test_large_layers.py use) and scanned once by
``python -m talosaudit scan <tree> --format json --no-cache`` in a fresh child process.
Printed per input: wall seconds, CPU seconds (user + system) and the child's peak RSS (``ru_maxrss`` of
``RUSAGE_CHILDREN``, read in a fresh measuring process per input so that earlier runs do
not count), beside the targets (5 s, 500 MB on one core; CPU time is compared, as wall time on a shared
machine also counts waiting for a core). Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

import hostile_generate  # noqa: E402

#: name -> (generator, size, extra scan arguments)
INPUTS: dict[str, tuple[str, int, list[str]]] = {
    "proxmox-2000-rules": ("proxmox_many_rules", 2000, ["--admin-cidr", "10.0.10.0/24"]),
    "pfsense-20000-rules": ("pfsense_many_rules", 20_000, ["--admin-cidr", "192.168.20.0/24"]),
    "pfsense-alias-100000": ("pfsense_big_alias", 100_000, ["--admin-cidr", "192.168.20.0/24"]),
    "proxmox-ipset-50000": ("proxmox_big_ipset", 50_000, ["--admin-cidr", "10.0.10.0/24"]),
    "pfsense-alias-dag-30": ("pfsense_alias_dag", 30, ["--admin-cidr", "192.168.20.0/24"]),
}
TARGET_SECONDS = 5.0
TARGET_MB = 500.0

_MEASURE = """
import resource, subprocess, sys, time
started = time.monotonic()
try:
    code = subprocess.run(sys.argv[3:], cwd=sys.argv[1], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=float(sys.argv[2])).returncode
except subprocess.TimeoutExpired:
    code = -1
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(time.monotonic() - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, code)
"""


def measure(tree: Path, extra: list[str], timeout: float, src: Path) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MB, exit code) of one scan; exit -1 when it
    timed out."""
    env = {**os.environ, "PYTHONPATH": str(src), "NO_COLOR": "1"}
    scan = [sys.executable, "-m", "talosaudit", "scan", str(tree), "--format", "json", "--no-cache", *extra]
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(tree.parent), str(timeout), *scan],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, cpu, kilobytes, code = done.stdout.split()
    return float(seconds), float(cpu), int(kilobytes) / 1024, int(code)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated input names")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument(
        "--src",
        type=Path,
        default=ROOT / "src",
        help="talosaudit sources to time (e.g. an older checkout's src)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size (not the DAG depth)")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(INPUTS)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    target = f"target ({TARGET_SECONDS:g} s CPU, {TARGET_MB:g} MB)"
    print(f"| input | wall s | CPU s | peak RSS MB | exit | {target} |")
    print("|---|---:|---:|---:|---:|---|")
    missed = False
    with tempfile.TemporaryDirectory(prefix="talosaudit-large-") as tmp:
        for name in names:
            make, size, extra = INPUTS[name]
            if make != "pfsense_alias_dag":
                size = max(1, int(size * args.scale))
            tree = getattr(hostile_generate, make)(Path(tmp) / name, size)
            seconds, cpu, mb, code = measure(tree, extra, args.timeout, args.src)
            # CPU time is the one-core figure: wall time also counts waiting on a loaded machine
            ok = code in (0, 1) and cpu <= TARGET_SECONDS and mb <= TARGET_MB
            missed |= not ok
            shown = f"> {args.timeout:g}" if code == -1 else f"{seconds:.2f}"
            verdict = "met" if ok else "MISSED"
            print(
                f"| {name} (size {size}) | {shown} | {cpu:.2f} | {mb:.0f} | {code} | {verdict} |", flush=True
            )
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
