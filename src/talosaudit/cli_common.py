"""What ``scan`` and ``live`` share once they run: the request they build from their options
and the tail that writes the reports. The options themselves and the one function that decides
exit codes are in cli_options.py, which starts fast; this module is imported by a command when
it runs (it pulls in pydantic, rich and the reporters).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from talosaudit.cli_options import (
    AuditOptions,
    CannotRun,
    ModelOptions,
    color_wanted,
    exit_code,
    fails,
)
from talosaudit.config import find_config, load_config
from talosaudit.findings import NOTHING_TO_CHECK, write_baseline
from talosaudit.levels import Level
from talosaudit.model.secrets import Secret, redact_secrets
from talosaudit.regular_files import read_bytes
from talosaudit.report import FORMATS
from talosaudit.report.base import Report
from talosaudit.report.markdown import render_markdown
from talosaudit.report.safe import defuse, visible
from talosaudit.settings import CommandLine

if TYPE_CHECKING:
    from talosaudit.report.picture import GraphData
    from talosaudit.scan import ScanRequest, ScanResult

MAX_DEFAULT_JOBS = 4


def say(message: str, quiet: bool) -> None:
    """A progress line or notice on stderr, unless ``--quiet``."""
    if not quiet:
        click.echo(defuse(visible(message)), err=True)


def parse_outputs(values: Sequence[str]) -> list[tuple[str, Path]]:
    """``-o sarif=talosaudit.sarif`` → ``[("sarif", Path("talosaudit.sarif"))]``."""
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


def default_cache_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "talosaudit"


def default_jobs() -> int:
    return min(os.cpu_count() or 1, MAX_DEFAULT_JOBS)


def display_path(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def encodable(text: str) -> str:
    """``text`` with the undecodable bytes of file names (``\\udcff`` surrogates, how Python
    holds a non-UTF-8 name) written as visible escapes, so UTF-8 output cannot fail."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


# --- the request and the report ---------------------------------------------------------


def model_request(
    opts: ModelOptions,
    *,
    paths: tuple[Path, ...],
    first_scanned: Path | None,
    no_cache: bool = False,
    jobs: int | None = None,
    command_line: CommandLine | None = None,
) -> ScanRequest:
    """The request that builds the model: the root, the config file (``--config``, else the one
    next to ``first_scanned``, else in the cwd), the facts, the cache and the parser processes."""
    from talosaudit.scan import ScanRequest, find_root

    if command_line is None:
        command_line = CommandLine(
            cni=opts.cni, tunnel=opts.tunnel, admin_cidrs=opts.admin_cidrs, skip_paths=opts.skip_paths
        )
    check_var_files(opts.var_files)
    cwd = Path.cwd()
    root = find_root(opts.root, cwd)
    config_path = find_config(opts.config_file, first_scanned, cwd)
    config = load_config(config_path)
    env = dict(os.environ)
    request = ScanRequest(
        paths=paths,
        root=root,
        config=config,
        config_name=display_path(config_path, root) if config_path else ".talosaudit.yaml",
        config_path=config_path,
        cli=command_line,
        var_files=opts.var_files,
        cache_dir=None if no_cache else default_cache_dir(env),
        jobs=jobs or default_jobs(),
        env=env,
    )
    request.settings  # noqa: B018 - validated now, before any input is read
    return request


def check_var_files(paths: Sequence[Path]) -> None:
    """A ``--var-file`` that cannot be parsed is a usage error (like a missing one), named with
    its line: its values would silently be missing from the whole evaluation otherwise."""
    from talosaudit.collectors.terraform.loader import parse_kind
    from talosaudit.collectors.terraform.parse import parse_source

    for path in paths:
        if path.is_dir():
            continue
        try:
            data = read_bytes(path)
        except OSError as exc:
            raise click.BadParameter(f"{path}: {exc.strerror or exc}", param_hint="--var-file") from exc
        result = parse_source(parse_kind(path), data)
        if result.tree is None:
            where = f"{path}:{max(result.error_line, 1)}"
            raise click.BadParameter(
                f"{where}: {result.error or 'cannot be parsed'}", param_hint="--var-file"
            )


def scan_request(opts: AuditOptions, *, paths: tuple[Path, ...], first_scanned: Path | None) -> ScanRequest:
    """``model_request()`` plus the rule selection, the level floor and the baseline."""
    from talosaudit.scan import parse_rule_selection

    command_line = CommandLine(
        cni=opts.cni,
        tunnel=opts.tunnel,
        admin_cidrs=opts.admin_cidrs,
        min_level=Level(opts.min_level) if opts.min_level else None,
        fail_on=opts.fail_on,
        soft_fail=opts.soft_fail,
        skip_paths=opts.skip_paths,
        compact=opts.compact,
        quiet=opts.quiet,
    )
    request = model_request(
        opts,
        paths=paths,
        first_scanned=first_scanned,
        no_cache=opts.no_cache,
        jobs=opts.jobs,
        command_line=command_line,
    )
    return replace(
        request,
        checks=parse_rule_selection(opts.checks),
        skip_checks=parse_rule_selection(opts.skips),
        baseline=opts.baseline,
        policy_dirs=opts.policy_dirs,
    )


def emit(
    ctx: click.Context,
    result: ScanResult,
    request: ScanRequest,
    opts: AuditOptions,
    *,
    files: Sequence[tuple[str, Path]],
    category: str,
) -> NoReturn:
    """Write the baseline (``--create-baseline``) or the reports: ``-o`` files, stdout, notices
    and the GitHub step summary; then exit with the code ``exit_code()`` decides."""
    if opts.create_baseline is not None:
        count = write_baseline(opts.create_baseline, result.baseline_candidates)
        say(
            f"wrote {count} finding{'s' if count != 1 else ''} to baseline {opts.create_baseline}", opts.quiet
        )
        ctx.exit(exit_code(result.findings, "never"))

    settings = request.settings
    shown = result.findings
    if settings.quiet:
        # Only what fails the run; with --fail-on never nothing fails, so everything stays.
        shown = tuple(
            f for f in shown if settings.fail_on == "never" or fails(f.level.value, settings.fail_on)
        )
    if settings.compact:
        shown = tuple(replace(f, related=()) for f in shown)
    report = Report(
        findings=shown,
        policies=result.policies,
        root=request.root,
        suppressed=() if settings.quiet else result.suppressed,
        facts=() if settings.quiet else result.facts,
        facts_by_root=() if settings.quiet else result.facts_by_root,
        files=result.files,
        duration=result.duration,
        notices=tuple(n for n in result.notices if not settings.quiet or n.startswith(NOTHING_TO_CHECK)),
        baseline_dropped=result.baseline_dropped,
        category=category,
        show_suppressed=opts.show_suppressed and not settings.quiet,
    )
    wanted = {opts.fmt, *(f for f, _ in files)}
    if wanted & {"html", "markdown", "github"}:
        report = replace(report, graphs=picture(result, request, with_traces="html" in wanted))
    refuse_overwriting_inputs(files, request, result.files)

    def printable(text: str) -> str:
        # Secret values (Terraform sensitive variables, outputs, sensitive()) show their
        # source, whatever the format: the last step before anything is written.
        return encodable(redact_secrets(text, result.model.secrets))

    for out_fmt, out_file in files:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(printable(FORMATS[out_fmt](report)), encoding="utf-8")
        say(f"wrote {out_fmt} report to {out_file}", opts.quiet)
    stdout_fmt = opts.fmt or ("text" if not files or not opts.quiet else None)
    if stdout_fmt == "text":
        from talosaudit.report.text import render_text  # rich, only when text is printed

        # A closed stdout (``>&-``) is None: no colour, and click.echo writes nothing.
        color = color_wanted(os.environ, sys.stdout is not None and sys.stdout.isatty())
        # click strips ANSI codes from a pipe unless told: FORCE_COLOR is meant for pipes.
        click.echo(printable(render_text(report, color=color)), nl=False, color=color)
    elif stdout_fmt is not None:
        click.echo(printable(FORMATS[stdout_fmt](report)), nl=False)
    if stdout_fmt != "text":
        for notice in report.notices:
            say(f"notice: {notice}", quiet=False)
    if "github" in {stdout_fmt, *(f for f, _ in files)}:
        _write_step_summary(report, request.env, result.model.secrets)
    ctx.exit(exit_code(result.findings, request.settings.fail_on))


def picture(
    result: ScanResult, request: ScanRequest, *, with_traces: bool
) -> tuple[tuple[str, GraphData], ...]:
    """The reachability matrix of a scan (for the markdown and HTML reports): one per
    Terraform root module, each of its own model (``("", matrix)`` with one model), as
    ``graph`` draws them; never one matrix of the merged roots."""
    from talosaudit.explain import graph_data
    from talosaudit.scan import request_catalogue

    catalogue = request_catalogue(request)
    by_root = result.models_by_root or (("", result.model),)
    return tuple((root, graph_data(model, catalogue, with_traces=with_traces)) for root, model in by_root)


def refuse_overwriting_inputs(
    files: Sequence[tuple[str, Path]], request: ScanRequest, scanned: Sequence[str]
) -> None:
    """``-o json=main.tf`` would replace a file just audited: refuse before writing anything."""
    inputs = {(request.root / rel).resolve() for rel in scanned}
    inputs.update(p.resolve() for p in request.paths if p.is_file())
    if request.config_path is not None:
        inputs.add(request.config_path.resolve())
    for out_fmt, out_file in files:
        if out_file.resolve() in inputs:
            raise CannotRun(f"-o {out_fmt}={out_file} would overwrite a scanned input; choose another file")


def _write_step_summary(report: Report, env: Mapping[str, str], secrets: Sequence[Secret]) -> None:
    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(encodable(redact_secrets(render_markdown(report), secrets)) + "\n")
