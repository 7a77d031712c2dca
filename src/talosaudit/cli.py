"""The command line: parse options, call the library, pick reporters, decide the exit code.

The exit code is decided in ``exit_code()`` and nowhere else. No traceback reaches the
user: every error becomes one clear line on stderr and exit code 2.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from talosaudit import __version__
from talosaudit.config import ConfigError, find_config, load_config
from talosaudit.findings import Finding, write_baseline
from talosaudit.policies.schema import Level
from talosaudit.report import FORMATS
from talosaudit.report.base import DEFAULT_CATEGORY, Report
from talosaudit.report.markdown import render_markdown
from talosaudit.report.text import render_text

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_CANNOT_RUN = 2
FAIL_ON_CHOICES = ("note", "warning", "error", "never")
LEVEL_CHOICES = ("note", "warning", "error")
MAX_DEFAULT_JOBS = 4


def exit_code(findings: Sequence[Finding], fail_on: str, problems: Sequence[str] = ()) -> int:
    """0: nothing at or above ``fail_on``; 1: findings; 2: the tool could not run.

    ``problems`` are reasons the run could not complete (bad config, no inputs...).
    Suppressed findings never count.
    """
    if problems:
        return EXIT_CANNOT_RUN
    if fail_on == "never":
        return EXIT_CLEAN
    floor = Level(fail_on).rank
    failing = any(f.suppressed is None and f.level.rank >= floor for f in findings)
    return EXIT_FINDINGS if failing else EXIT_CLEAN


#: The code for "could not run", from the one function that decides exit codes.
_CANNOT_RUN_CODE = exit_code((), "never", ["the tool could not run"])


class CannotRun(click.ClickException):
    """Printed as ``Error: <message>`` on stderr."""

    exit_code = _CANNOT_RUN_CODE


def _expected_errors() -> tuple[type[Exception], ...]:
    """Errors that mean "cannot run" and carry a message meant for the user."""
    from talosaudit.findings import BaselineError
    from talosaudit.scan import ScanError

    errors: list[type[Exception]] = [ConfigError, BaselineError, ScanError]
    try:
        from talosaudit.policies.registry import PolicyError
    except ImportError:  # pragma: no cover - only while the registry is being written
        pass
    else:
        errors.append(PolicyError)
    return tuple(errors)


class _Guarded(click.Group):
    """Turns every exception from a command into a message and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt as exc:
            raise CannotRun("interrupted") from exc
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, and keep Python from complaining
            # about the unflushable stdout at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(_CANNOT_RUN_CODE) from None
        except _expected_errors() as exc:
            raise CannotRun(str(exc)) from exc
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            raise CannotRun(f"{exc.strerror or exc}{where}") from exc
        except Exception as exc:
            if os.environ.get("TALOSAUDIT_DEBUG"):
                traceback.print_exc()
            raise CannotRun(
                f"internal error: {type(exc).__name__}: {exc} "
                "(please report it; TALOSAUDIT_DEBUG=1 prints the traceback)"
            ) from exc


@click.group(cls=_Guarded, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="talosaudit")
def cli() -> None:
    """Audit the network exposure of Talos Linux Kubernetes clusters."""


# --- scan ------------------------------------------------------------------------------


def _parse_outputs(values: Sequence[str]) -> list[tuple[str, Path]]:
    outputs: list[tuple[str, Path]] = []
    for value in values:
        fmt, sep, file = value.partition("=")
        fmt = fmt.strip().lower()
        if not sep or not file:
            raise click.BadParameter(f"{value!r}: expected FORMAT=FILE, e.g. sarif=talosaudit.sarif")
        if fmt not in FORMATS:
            raise click.BadParameter(f"{value!r}: unknown format {fmt!r} (one of {', '.join(FORMATS)})")
        outputs.append((fmt, Path(file)))
    return outputs


def default_cache_dir(env: dict[str, str]) -> Path:
    base = env.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "talosaudit"


def default_jobs() -> int:
    return min(os.cpu_count() or 1, MAX_DEFAULT_JOBS)


def _display_path(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _color_wanted() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        click.echo(message, err=True)


paths_argument = click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)


@cli.command()
@paths_argument
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default=None, help="stdout format [text]")
@click.option(
    "-o", "--output", "outputs", multiple=True, metavar="FORMAT=FILE", help="also write FORMAT to FILE"
)
@click.option(
    "--var-file", "var_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--cni", type=click.Choice(["flannel", "cilium", "calico", "none"]), default=None)
@click.option("--tunnel", type=click.Choice(["vxlan", "geneve", "ipip", "bgp", "none"]), default=None)
@click.option("--admin-cidr", "admin_cidrs", multiple=True, metavar="CIDR")
@click.option(
    "--check", "checks", multiple=True, metavar="IDS", help="only these rule ids or prefixes (TA1,TA201)"
)
@click.option("--skip-check", "skips", multiple=True, metavar="IDS", help="not these rule ids or prefixes")
@click.option("--min-level", type=click.Choice(LEVEL_CHOICES), default=None, help="hide findings below")
@click.option(
    "--fail-on", type=click.Choice(FAIL_ON_CHOICES), default=None, help="exit 1 at or above [error]"
)
@click.option(
    "--baseline", type=click.Path(path_type=Path), default=None, help="hide findings in this baseline"
)
@click.option(
    "--create-baseline", type=click.Path(path_type=Path), default=None, help="write a baseline, exit 0"
)
@click.option(
    "--policy-dir",
    "policy_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option("--config", "config_file", type=click.Path(path_type=Path), default=None)
@click.option("--no-cache", is_flag=True, help="do not cache parsed files")
@click.option("--quiet", "-q", is_flag=True, help="no text report when writing files with -o; no notices")
@click.option("--root", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None)
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="parser processes [CPUs, max 4]")
@click.option("--show-suppressed", is_flag=True, help="show suppressed findings (and put them in SARIF)")
@click.option("--category", default=DEFAULT_CATEGORY, show_default=True, help="SARIF automationDetails.id")
@click.pass_context
def scan(
    ctx: click.Context,
    *,
    paths: tuple[Path, ...],
    fmt: str | None,
    outputs: tuple[str, ...],
    var_files: tuple[Path, ...],
    cni: str | None,
    tunnel: str | None,
    admin_cidrs: tuple[str, ...],
    checks: tuple[str, ...],
    skips: tuple[str, ...],
    min_level: str | None,
    fail_on: str | None,
    baseline: Path | None,
    create_baseline: Path | None,
    policy_dirs: tuple[Path, ...],
    config_file: Path | None,
    no_cache: bool,
    quiet: bool,
    root: Path | None,
    jobs: int | None,
    show_suppressed: bool,
    category: str,
) -> None:
    """Audit the firewall layers defined in PATH... (Terraform, Talos, Proxmox, pfSense)."""
    from talosaudit.scan import ScanRequest, find_root, parse_rule_selection, run_scan

    files = _parse_outputs(outputs)
    cwd = Path.cwd()
    scan_root = find_root(root, cwd)
    config_path = find_config(config_file, paths[0], cwd)
    config = load_config(config_path)
    env = dict(os.environ)
    level_floor = min_level or (config.min_level.value if config.min_level else None)
    request = ScanRequest(
        paths=paths,
        root=scan_root,
        config=config,
        config_name=_display_path(config_path, scan_root) if config_path else ".talosaudit.yaml",
        config_path=config_path,
        cni=cni,
        tunnel=tunnel,
        admin_cidrs=admin_cidrs,
        var_files=var_files,
        checks=parse_rule_selection(checks),
        skip_checks=parse_rule_selection(skips),
        min_level=Level(level_floor) if level_floor else None,
        baseline=baseline,
        policy_dirs=policy_dirs,
        cache_dir=None if no_cache else default_cache_dir(env),
        jobs=jobs or default_jobs(),
        env=env,
    )
    result = run_scan(request)

    if create_baseline is not None:
        count = write_baseline(create_baseline, result.baseline_candidates)
        _say(f"wrote {count} finding{'s' if count != 1 else ''} to baseline {create_baseline}", quiet)
        ctx.exit(exit_code(result.findings, "never"))

    report = Report(
        findings=result.findings,
        policies=result.policies,
        root=scan_root,
        suppressed=result.suppressed,
        facts=result.facts,
        files=result.files,
        duration=result.duration,
        notices=result.notices,
        baseline_dropped=result.baseline_dropped,
        category=category,
        show_suppressed=show_suppressed,
    )
    for out_fmt, out_file in files:
        out_file.write_text(FORMATS[out_fmt](report), encoding="utf-8")
        _say(f"wrote {out_fmt} report to {out_file}", quiet)
    stdout_fmt = fmt or ("text" if not files or not quiet else None)
    if stdout_fmt == "text":
        click.echo(render_text(report, color=_color_wanted()), nl=False)
    elif stdout_fmt is not None:
        click.echo(FORMATS[stdout_fmt](report), nl=False)
    if stdout_fmt != "text":
        for notice in result.notices:
            _say(f"notice: {notice}", quiet)
    if "github" in {stdout_fmt, *(f for f, _ in files)}:
        _write_step_summary(report, env)
    policy_fail_on = fail_on or config.fail_on or "error"
    ctx.exit(exit_code(result.findings, policy_fail_on))


def _write_step_summary(report: Report, env: dict[str, str]) -> None:
    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(render_markdown(report) + "\n")


# --- graph and why ------------------------------------------------------------------


def _model_request(
    *,
    paths: tuple[Path, ...],
    root: Path | None,
    config_file: Path | None,
    cni: str | None,
    tunnel: str | None,
    admin_cidrs: tuple[str, ...],
    var_files: tuple[Path, ...],
) -> Any:
    from talosaudit.scan import ScanRequest, find_root

    cwd = Path.cwd()
    scan_root = find_root(root, cwd)
    config_path = find_config(config_file, paths[0], cwd)
    return ScanRequest(
        paths=paths,
        root=scan_root,
        config=load_config(config_path),
        config_name=_display_path(config_path, scan_root) if config_path else ".talosaudit.yaml",
        config_path=config_path,
        cni=cni,
        tunnel=tunnel,
        admin_cidrs=admin_cidrs,
        var_files=var_files,
        cache_dir=default_cache_dir(dict(os.environ)),
        jobs=default_jobs(),
    )


def model_options(func: Any) -> Any:
    """The options that shape the model, shared by ``graph`` and ``why``."""
    for option in reversed(
        [
            click.option(
                "--var-file", "var_files", multiple=True, type=click.Path(exists=True, path_type=Path)
            ),
            click.option("--cni", type=click.Choice(["flannel", "cilium", "calico", "none"]), default=None),
            click.option(
                "--tunnel", type=click.Choice(["vxlan", "geneve", "ipip", "bgp", "none"]), default=None
            ),
            click.option("--admin-cidr", "admin_cidrs", multiple=True, metavar="CIDR"),
            click.option("--config", "config_file", type=click.Path(path_type=Path), default=None),
            click.option(
                "--root", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None
            ),
        ]
    ):
        func = option(func)
    return func


@cli.command()
@paths_argument
@click.option("--format", "fmt", type=click.Choice(["text", "mermaid", "dot"]), default="text")
@model_options
def graph(
    *,
    paths: tuple[Path, ...],
    fmt: str,
    var_files: tuple[Path, ...],
    cni: str | None,
    tunnel: str | None,
    admin_cidrs: tuple[str, ...],
    config_file: Path | None,
    root: Path | None,
) -> None:
    """Node groups with their roles and why, their layers, and the required-flow matrix."""
    from talosaudit.explain import graph_data
    from talosaudit.policies.registry import load_catalogue
    from talosaudit.report.graph import GRAPH_FORMATS
    from talosaudit.scan import build_model

    request = _model_request(
        paths=paths,
        root=root,
        config_file=config_file,
        cni=cni,
        tunnel=tunnel,
        admin_cidrs=admin_cidrs,
        var_files=var_files,
    )
    model, _ = build_model(request)
    click.echo(GRAPH_FORMATS[fmt](graph_data(model, load_catalogue())), nl=False)


@cli.command()
@paths_argument
@click.option(
    "--from", "source", required=True, metavar="ROLE|CIDR", help="control-plane, worker, admin, internet"
)
@click.option(
    "--to", "destination", required=True, metavar="ROLE", help="control-plane, worker or a node group"
)
@click.option("--port", "flow", required=True, metavar="PORT/PROTO", help="e.g. 50001/tcp, udp/4789, all")
@model_options
def why(
    *,
    paths: tuple[Path, ...],
    source: str,
    destination: str,
    flow: str,
    var_files: tuple[Path, ...],
    cni: str | None,
    tunnel: str | None,
    admin_cidrs: tuple[str, ...],
    config_file: Path | None,
    root: Path | None,
) -> None:
    """Layer-by-layer trace of one flow: which rule allows it, or which layer blocks it."""
    from talosaudit.explain import ExplainError, parse_flow, render_trace, trace
    from talosaudit.scan import build_model

    try:
        parse_flow(flow)
    except ExplainError as exc:
        raise click.BadParameter(str(exc), param_hint="--port") from exc
    request = _model_request(
        paths=paths,
        root=root,
        config_file=config_file,
        cni=cni,
        tunnel=tunnel,
        admin_cidrs=admin_cidrs,
        var_files=var_files,
    )
    model, _ = build_model(request)
    try:
        traces = trace(model, source, destination, flow)
    except ExplainError as exc:
        raise CannotRun(str(exc)) from exc
    click.echo(render_trace(traces), nl=False)


# --- policies --------------------------------------------------------------------------


@cli.group()
def policies() -> None:
    """The rule catalogue."""


@policies.command("list")
@click.option(
    "--policy-dir",
    "policy_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
def policies_list(policy_dirs: tuple[Path, ...]) -> None:
    """Every rule: id, level, name and what it checks."""
    from talosaudit.policies.registry import load_catalogue

    catalogue = load_catalogue(list(policy_dirs))
    for p in sorted(catalogue.policies, key=lambda p: p.id):
        click.echo(f"{p.id}  {p.level.value:<7}  {p.name:<32}  {p.title}")


@policies.command("show")
@click.argument("rule_id")
@click.option(
    "--policy-dir",
    "policy_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
def policies_show(rule_id: str, policy_dirs: tuple[Path, ...]) -> None:
    """One rule with its rationale, remediation and parameters."""
    from talosaudit.policies.registry import load_catalogue

    catalogue = load_catalogue(list(policy_dirs))
    wanted = rule_id.strip().upper()
    found = next((p for p in catalogue.policies if p.id == wanted), None)
    if found is None:
        raise CannotRun(f"no rule {rule_id!r} (see `talosaudit policies list`)")
    lines = [
        f"{found.id} {found.name} ({found.level.value}, security-severity {found.security_severity:.1f})",
        found.title,
        "",
        "Why:",
        found.rationale.strip(),
        "",
        "Fix:",
        found.remediation.strip(),
    ]
    if found.params:
        lines += ["", "Parameters:"] + [f"  {k}: {v}" for k, v in sorted(found.params.items())]
    if found.references:
        lines += ["", "References:"] + [f"  {r}" for r in found.references]
    click.echo("\n".join(lines))


from talosaudit.cli_live import live  # noqa: E402 - defined in its own module (issue 6)

cli.add_command(live)


def main() -> None:
    cli(prog_name="talosaudit")
