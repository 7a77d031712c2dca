"""What ``scan`` and ``live`` share: their output, selection and fact options, the request they
build from them, the tail that writes the reports, and the one function that decides exit codes.

cli.py and cli_live.py both import this module and it imports neither, so either command module
can be imported first.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from talosaudit.config import find_config, load_config
from talosaudit.findings import Finding, write_baseline
from talosaudit.levels import Level
from talosaudit.report import FORMATS
from talosaudit.report.base import Report
from talosaudit.report.markdown import render_markdown
from talosaudit.report.safe import defuse, visible
from talosaudit.report.text import render_text
from talosaudit.settings import CommandLine

if TYPE_CHECKING:
    from talosaudit.model import Model
    from talosaudit.report.picture import GraphData
    from talosaudit.scan import ScanRequest, ScanResult

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


class CannotRun(click.ClickException):
    """Printed as ``Error: <message>`` on stderr; the message often quotes input (a config
    parse error, a file name), so it is made visible on one line.
    The code is ``exit_code()``'s for problems."""

    exit_code = EXIT_CANNOT_RUN

    def __init__(self, message: str) -> None:
        super().__init__(visible(message))


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


def _color_wanted() -> bool:
    # A closed stdout (``>&-``) is None: no colour, and click.echo writes nothing.
    return sys.stdout is not None and sys.stdout.isatty() and "NO_COLOR" not in os.environ


# --- the options ------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelOptions:
    """The options that shape the model (``graph``, ``why``; ``scan`` and ``live`` have them too)."""

    var_files: tuple[Path, ...]
    cni: str | None
    tunnel: str | None
    admin_cidrs: tuple[str, ...]
    config_file: Path | None
    root: Path | None


@dataclass(frozen=True)
class AuditOptions(ModelOptions):
    """The output, selection and fact options of ``scan`` and ``live``, as click parsed them."""

    fmt: str | None
    outputs: tuple[str, ...]
    checks: tuple[str, ...]
    skips: tuple[str, ...]
    min_level: str | None
    fail_on: str | None
    baseline: Path | None
    create_baseline: Path | None
    policy_dirs: tuple[Path, ...]
    no_cache: bool
    quiet: bool
    jobs: int | None
    show_suppressed: bool


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

policy_dir_option = click.option(
    "--policy-dir",
    "policy_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
_cni_option = click.option("--cni", type=click.Choice(["flannel", "cilium", "calico", "none"]), default=None)
_tunnel_option = click.option(
    "--tunnel", type=click.Choice(["vxlan", "geneve", "ipip", "bgp", "none"]), default=None
)
_admin_cidr_option = click.option("--admin-cidr", "admin_cidrs", multiple=True, metavar="CIDR")
_config_option = click.option("--config", "config_file", type=click.Path(path_type=Path), default=None)
_root_option = click.option(
    "--root", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None
)


def _packed(options_type: type[Any], keyword: str, options: Sequence[Decorator]) -> Decorator:
    """Apply ``options`` (listed in ``--help`` order) to a command and hand their values to it
    as one ``options_type`` value in the parameter ``keyword``."""
    names = [f.name for f in fields(options_type)]

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def callback(*args: Any, **kwargs: Any) -> Any:
            packed = options_type(**{name: kwargs.pop(name) for name in names})
            return func(*args, **kwargs, **{keyword: packed})

        command: Callable[..., Any] = callback
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def model_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options that shape the model, passed to ``graph`` and ``why`` as ``model_opts``.

    Their ``--var-file`` also takes a directory, as it always has.
    """
    return _packed(
        ModelOptions,
        "model_opts",
        [
            click.option(
                "--var-file", "var_files", multiple=True, type=click.Path(exists=True, path_type=Path)
            ),
            _cni_option,
            _tunnel_option,
            _admin_cidr_option,
            _config_option,
            _root_option,
        ],
    )(func)


def audit_options(*, no_cache_help: str, quiet_help: str) -> Decorator:
    """The options of ``scan`` and ``live`` from ``--format`` to ``--show-suppressed``, passed to
    the command as ``opts: AuditOptions``. Only the help of ``--no-cache`` and ``--quiet`` differs."""
    return _packed(
        AuditOptions,
        "opts",
        [
            click.option(
                "--format", "fmt", type=click.Choice(list(FORMATS)), default=None, help="stdout format [text]"
            ),
            click.option(
                "-o",
                "--output",
                "outputs",
                multiple=True,
                metavar="FORMAT=FILE",
                help="also write FORMAT to FILE",
            ),
            click.option(
                "--var-file",
                "var_files",
                multiple=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
            ),
            _cni_option,
            _tunnel_option,
            _admin_cidr_option,
            click.option(
                "--check",
                "checks",
                multiple=True,
                metavar="IDS",
                help="only these rule ids or prefixes (TA1,TA201)",
            ),
            click.option(
                "--skip-check", "skips", multiple=True, metavar="IDS", help="not these rule ids or prefixes"
            ),
            click.option(
                "--min-level", type=click.Choice(LEVEL_CHOICES), default=None, help="hide findings below"
            ),
            click.option(
                "--fail-on",
                type=click.Choice(FAIL_ON_CHOICES),
                default=None,
                help="exit 1 at or above [error]",
            ),
            click.option(
                "--baseline",
                type=click.Path(path_type=Path),
                default=None,
                help="hide findings in this baseline",
            ),
            click.option(
                "--create-baseline",
                type=click.Path(path_type=Path),
                default=None,
                help="write a baseline, exit 0",
            ),
            policy_dir_option,
            _config_option,
            click.option("--no-cache", is_flag=True, help=no_cache_help),
            click.option("--quiet", "-q", is_flag=True, help=quiet_help),
            _root_option,
            click.option(
                "--jobs",
                "-j",
                type=click.IntRange(min=1),
                default=None,
                help="parser processes [CPUs, max 4]",
            ),
            click.option(
                "--show-suppressed", is_flag=True, help="show suppressed findings (and put them in SARIF)"
            ),
        ],
    )


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
        command_line = CommandLine(cni=opts.cni, tunnel=opts.tunnel, admin_cidrs=opts.admin_cidrs)
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


def scan_request(opts: AuditOptions, *, paths: tuple[Path, ...], first_scanned: Path | None) -> ScanRequest:
    """``model_request()`` plus the rule selection, the level floor and the baseline."""
    from talosaudit.scan import parse_rule_selection

    command_line = CommandLine(
        cni=opts.cni,
        tunnel=opts.tunnel,
        admin_cidrs=opts.admin_cidrs,
        min_level=Level(opts.min_level) if opts.min_level else None,
        fail_on=opts.fail_on,
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

    report = Report(
        findings=result.findings,
        policies=result.policies,
        root=request.root,
        suppressed=result.suppressed,
        facts=result.facts,
        facts_by_root=result.facts_by_root,
        files=result.files,
        duration=result.duration,
        notices=result.notices,
        baseline_dropped=result.baseline_dropped,
        category=category,
        show_suppressed=opts.show_suppressed,
    )
    wanted = {opts.fmt, *(f for f, _ in files)}
    if wanted & {"html", "markdown", "github"}:
        report = replace(report, graph=picture(result.model, request, with_traces="html" in wanted))
    refuse_overwriting_inputs(files, request, result.files)
    for out_fmt, out_file in files:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(encodable(FORMATS[out_fmt](report)), encoding="utf-8")
        say(f"wrote {out_fmt} report to {out_file}", opts.quiet)
    stdout_fmt = opts.fmt or ("text" if not files or not opts.quiet else None)
    if stdout_fmt == "text":
        click.echo(encodable(render_text(report, color=_color_wanted())), nl=False)
    elif stdout_fmt is not None:
        click.echo(encodable(FORMATS[stdout_fmt](report)), nl=False)
    if stdout_fmt != "text":
        for notice in result.notices:
            say(f"notice: {notice}", opts.quiet)
    if "github" in {stdout_fmt, *(f for f, _ in files)}:
        _write_step_summary(report, request.env)
    ctx.exit(exit_code(result.findings, request.settings.fail_on))


def picture(model: Model, request: ScanRequest, *, with_traces: bool) -> GraphData:
    """The reachability matrix of a scanned model (for the markdown and HTML reports)."""
    from talosaudit.explain import graph_data
    from talosaudit.scan import request_catalogue

    return graph_data(model, request_catalogue(request), with_traces=with_traces)


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


def _write_step_summary(report: Report, env: Mapping[str, str]) -> None:
    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(encodable(render_markdown(report)) + "\n")
