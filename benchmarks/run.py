"""Benchmark ``talosaudit scan`` on generated trees, beside checkov when it is installed.

    python benchmarks/run.py [--sizes 200x20,1000x20] [--repeat 1] [--tools talosaudit,checkov,hcl2]

For each size NxR it generates ``benchmarks/out/NxR`` (benchmarks/generate.py) and measures,
each command in a fresh process:

- talosaudit cold: ``talosaudit scan <tree> --format json --no-cache``;
- talosaudit warm: the same with the parse cache on, after one untimed run that fills a
  fresh cache directory (``XDG_CACHE_HOME`` points into benchmarks/out);
- checkov, if ``benchmarks/.venv-checkov/bin/checkov`` exists (benchmarks/setup_checkov.sh):
  ``checkov -d <tree> --framework terraform --quiet --compact -o json``;
- tool ``hcl2`` (not run by default): python-hcl2 parsing every file and nothing else (the floor of any
  python-hcl2 based tool).

What is measured per run: wall time; CPU time (user + system of the command and all its
descendants); peak RSS of the largest single process (``getrusage(RUSAGE_CHILDREN)`` in a
fresh measuring process, which waits for nothing else); and peak RSS of the whole process
tree (sum over the command and its descendants, sampled from /proc every 20 ms), which is
what counts when a tool forks workers. Output is a markdown table with the ratios to
checkov and the load average before each kept run (other work on the machine skews
absolute times), and ``benchmarks/out/results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
CHECKOV = HERE / ".venv-checkov" / "bin" / "checkov"

#: Runs COMMAND in a child, samples its process tree's RSS from /proc, and prints one JSON
#: line with wall time, CPU time and both peaks. Executed with ``python -c`` so that
#: RUSAGE_CHILDREN covers exactly one command.
MEASURE = r"""
import json, os, resource, subprocess, sys, time

def tree_rss_kb(root):
    pids, total = [root], 0
    while pids:
        pid = pids.pop()
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    pids.extend(int(p) for p in fh.read().split())
        except (OSError, ValueError):
            pass
    return total

start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
peak_tree = 0
while child.poll() is None:
    peak_tree = max(peak_tree, tree_rss_kb(child.pid))
    time.sleep(0.02)
stderr = child.stderr.read().decode(errors="replace")
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "exit": child.returncode,
    "wall_s": wall,
    "cpu_s": usage.ru_utime + usage.ru_stime,
    "peak_rss_mb": usage.ru_maxrss / 1024,
    "peak_tree_rss_mb": max(peak_tree, usage.ru_maxrss) / 1024,
    "stderr_tail": stderr[-400:],
}))
"""

HCL2_ONLY = (
    "import pathlib, sys, hcl2\n"
    "for p in sorted(pathlib.Path(sys.argv[1]).rglob('*.tf')):\n"
    "    hcl2.loads(p.read_text())\n"
)


@dataclass(frozen=True)
class Measurement:
    size: str
    tool: str
    mode: str
    exit: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    peak_tree_rss_mb: float
    #: 1-minute load average just before the kept run: other work on the machine.
    load_before: float = 0.0


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def measure(command: list[str], env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *command], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"measuring {command[:3]} failed:\n{done.stderr}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def talosaudit(tree: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "talosaudit", "scan", str(tree), "--format", "json", *extra]


def best_of(
    size: str, tool: str, mode: str, *, command: list[str], env: dict[str, str], repeat: int
) -> Measurement:
    runs = []
    for _ in range(repeat):
        load = load_average()
        runs.append({**measure(command, env), "load_before": load})
    best = min(runs, key=lambda r: float(str(r["wall_s"])))
    # talosaudit exits 1 when it has findings and checkov when checks fail: both are normal
    # here (the trees are full of public rules); 2 or more means the tool could not run.
    if int(str(best["exit"])) > 1:
        raise SystemExit(f"{tool} {mode} on {size} exited {best['exit']}: {best['stderr_tail']}")
    return Measurement(
        size=size,
        tool=tool,
        mode=mode,
        exit=int(str(best["exit"])),
        wall_s=float(str(best["wall_s"])),
        cpu_s=float(str(best["cpu_s"])),
        peak_rss_mb=float(str(best["peak_rss_mb"])),
        peak_tree_rss_mb=float(str(best["peak_tree_rss_mb"])),
        load_before=float(str(best["load_before"])),
    )


def bench_size(size: str, repeat: int, tools: set[str]) -> list[Measurement]:
    files, rules = (int(x) for x in size.lower().split("x"))
    tree = OUT / size
    subprocess.run([sys.executable, str(HERE / "generate.py"), str(files), str(rules), str(tree)], check=True)
    env = dict(os.environ)
    results: list[Measurement] = []
    if "talosaudit" in tools:
        cold = talosaudit(tree, "--no-cache")
        results.append(best_of(size, "talosaudit", "cold", command=cold, env=env, repeat=repeat))
        cache_home = OUT / f"cache-{size}"
        shutil.rmtree(cache_home, ignore_errors=True)
        warm_env = {**env, "XDG_CACHE_HOME": str(cache_home)}
        measure(talosaudit(tree), warm_env)  # fills the cache; not reported
        results.append(
            best_of(size, "talosaudit", "warm", command=talosaudit(tree), env=warm_env, repeat=repeat)
        )

    if "hcl2" in tools:
        parse_only = [sys.executable, "-c", HCL2_ONLY, str(tree)]
        results.append(best_of(size, "python-hcl2", "parse only", command=parse_only, env=env, repeat=repeat))
    if "checkov" in tools:
        command = [str(CHECKOV), "-d", str(tree), "--framework", "terraform"]
        command += ["--quiet", "--compact", "-o", "json"]
        results.append(best_of(size, "checkov", "3.3.30", command=command, env=env, repeat=repeat))
    return results


def table(results: list[Measurement]) -> str:
    lines = [
        "| tree | tool | mode | wall s | CPU s | peak RSS MB (largest process) | peak RSS MB (process tree) "
        "| wall vs checkov | RSS vs checkov | load before |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    checkov = {m.size: m for m in results if m.tool == "checkov"}
    for m in results:
        ref = checkov.get(m.size)
        wall_ratio = f"{m.wall_s / ref.wall_s:.2f}x" if ref and m is not ref else ""
        rss_ratio = f"{m.peak_tree_rss_mb / ref.peak_tree_rss_mb:.2f}x" if ref and m is not ref else ""
        lines.append(
            f"| {m.size} | {m.tool} | {m.mode} | {m.wall_s:.2f} | {m.cpu_s:.2f} | {m.peak_rss_mb:.0f} "
            f"| {m.peak_tree_rss_mb:.0f} | {wall_ratio} | {rss_ratio} | {m.load_before:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="200x20,1000x20", help="comma-separated NxR tree sizes")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the fastest is kept")
    parser.add_argument(
        "--tools", default="talosaudit,checkov", help="comma-separated: talosaudit, checkov, hcl2"
    )
    args = parser.parse_args()
    tools = {t.strip() for t in args.tools.split(",") if t.strip()}
    unknown = tools - {"talosaudit", "checkov", "hcl2"}
    if unknown:
        parser.error(f"unknown tools: {sorted(unknown)}")
    if "checkov" in tools and not CHECKOV.exists():
        print(f"checkov not found at {CHECKOV}; run benchmarks/setup_checkov.sh to compare", file=sys.stderr)
        tools.discard("checkov")
    results: list[Measurement] = []
    for size in args.sizes.split(","):
        results += bench_size(size.strip(), args.repeat, tools)
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps([asdict(m) for m in results], indent=2) + "\n")
    when = time.strftime("%Y-%m-%d %H:%M %Z")
    python = sys.version.split()[0]
    print(f"{when}, {os.cpu_count()} CPUs, Python {python}, load {load_average():.2f} at the end")
    print(table(results))


if __name__ == "__main__":
    main()
