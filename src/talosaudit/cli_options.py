"""The options of every command, and what the command line needs before any work starts.

This module imports click and the standard library only: ``talosaudit --version``,
``--help`` and ``policies list`` must start fast, so pydantic, rich, the collectors and the
reporters are imported by a command when it runs (cli_common.py and below), never here.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from talosaudit.findings import Finding

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_CANNOT_RUN = 2
FAIL_ON_CHOICES = ("note", "warning", "error", "never")
LEVEL_CHOICES = ("note", "warning", "error")
_LEVEL_RANK = {"note": 1, "warning": 2, "error": 3}
#: The names of ``report.FORMATS`` (tests/test_cli.py checks they agree), here so that the
#: option can list them without importing every reporter.
FORMAT_NAMES = ("text", "json", "sarif", "github", "markdown", "junitxml", "gitlab", "html")
#: Every option is also read from ``TALOSAUDIT_<OPTION>`` (``--fail-on``: ``TALOSAUDIT_FAIL_ON``).
ENV_PREFIX = "TALOSAUDIT"
#: Paths that mean "standard input", which no collector can read.
_STDIN_NAMES = frozenset({"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})


class CannotRun(click.ClickException):
    """Printed as ``Error: <message>`` on stderr; the message often quotes input (a config
    parse error, a file name), so it is made visible on one line.
    The code is ``exit_code()``'s for problems."""

    exit_code = EXIT_CANNOT_RUN

    def __init__(self, message: str) -> None:
        from talosaudit.report.safe import visible

        super().__init__(visible(message))


def exit_code(findings: Sequence[Finding], fail_on: str, problems: Sequence[str] = ()) -> int:
    """0: nothing at or above ``fail_on``; 1: findings; 2: the tool could not run.

    ``problems`` are reasons the run could not complete (bad config, no inputs...).
    Suppressed findings never count.
    """
    if problems:
        return EXIT_CANNOT_RUN
    failing = any(f.suppressed is None and fails(f.level.value, fail_on) for f in findings)
    return EXIT_FINDINGS if failing else EXIT_CLEAN


def fails(level: str, fail_on: str) -> bool:
    """A finding of ``level`` makes the run fail under ``--fail-on fail_on``."""
    return fail_on != "never" and _LEVEL_RANK[level] >= _LEVEL_RANK[fail_on]


def color_wanted(env: dict[str, str] | os._Environ[str], isatty: bool) -> bool:
    """``NO_COLOR`` (any value) turns colour off; ``FORCE_COLOR`` (non-empty, not ``0``) turns it
    on in a pipe or a CI log; otherwise colour only on a terminal."""
    if "NO_COLOR" in env:
        return False
    force = env.get("FORCE_COLOR")
    if force is not None and force not in ("", "0", "false"):
        return True
    return isatty


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
    skip_paths: tuple[str, ...]


@dataclass(frozen=True)
class AuditOptions(ModelOptions):
    """The output, selection and fact options of ``scan`` and ``live``, as click parsed them."""

    fmt: str | None
    outputs: tuple[str, ...]
    checks: tuple[str, ...]
    skips: tuple[str, ...]
    min_level: str | None
    fail_on: str | None
    soft_fail: bool
    baseline: Path | None
    create_baseline: Path | None
    policy_dirs: tuple[Path, ...]
    no_cache: bool
    quiet: bool
    compact: bool
    jobs: int | None
    show_suppressed: bool


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

policy_dir_option = click.option(
    "--policy-dir",
    "policy_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="also load the policy files (*.yaml) of this folder (repeatable)",
)
_cni_option = click.option(
    "--cni",
    type=click.Choice(["flannel", "cilium", "calico", "none"]),
    default=None,
    help="the cluster's CNI, when the inputs do not say it [flannel]",
)
_tunnel_option = click.option(
    "--tunnel",
    type=click.Choice(["vxlan", "geneve", "ipip", "bgp", "none"]),
    default=None,
    help="the CNI's overlay, when the inputs do not say it [vxlan]",
)
_admin_cidr_option = click.option(
    "--admin-cidr",
    "admin_cidrs",
    multiple=True,
    metavar="CIDR",
    help="a network the operators work from (repeatable): apid and the API may be open to it",
)
_config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    default=None,
    help="the settings file [.talosaudit.yaml next to the first path, else in the cwd]",
)
_root_option = click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="paths in reports are relative to this folder [the git repository, else the cwd]",
)
_skip_path_option = click.option(
    "--skip-path",
    "skip_paths",
    multiple=True,
    metavar="GLOB",
    help="do not read files matching GLOB, relative to the root (repeatable), e.g. 'examples/*'",
)


def _var_file_option(*, dir_okay: bool) -> Decorator:
    return click.option(
        "--var-file",
        "var_files",
        multiple=True,
        type=click.Path(exists=True, dir_okay=dir_okay, path_type=Path),
        help="a Terraform .tfvars file, as terraform's -var-file (repeatable, last wins)",
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
            _var_file_option(dir_okay=True),
            _cni_option,
            _tunnel_option,
            _admin_cidr_option,
            _config_option,
            _root_option,
            _skip_path_option,
        ],
    )(func)


def audit_options(*, no_cache_help: str) -> Decorator:
    """The options of ``scan`` and ``live`` from ``--format`` to ``--show-suppressed``, passed to
    the command as ``opts: AuditOptions``. Only the help of ``--no-cache`` differs."""
    return _packed(
        AuditOptions,
        "opts",
        [
            click.option(
                "--format",
                "fmt",
                type=click.Choice(FORMAT_NAMES),
                default=None,
                help="stdout format [text]",
            ),
            click.option(
                "-o",
                "--output",
                "outputs",
                multiple=True,
                metavar="FORMAT=FILE",
                help="also write FORMAT to FILE (repeatable; missing folders are created)",
            ),
            _var_file_option(dir_okay=False),
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
            _skip_path_option,
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
                "--soft-fail",
                is_flag=True,
                help="never exit 1 for findings (the same as --fail-on never)",
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
            click.option(
                "--quiet",
                "-q",
                is_flag=True,
                help="only failing findings (at or above --fail-on) in every output; no notices, "
                "no progress, no text report when writing files with -o",
            ),
            click.option(
                "--compact",
                is_flag=True,
                help="findings without their related locations ('see ...' lines, SARIF relatedLocations)",
            ),
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


def reject_stdin(_ctx: click.Context, _param: click.Parameter, value: tuple[Path, ...]) -> tuple[Path, ...]:
    """``scan -``: the inputs are read as files of a folder (a module, its tfvars), so
    standard input cannot stand in for them."""
    for path in value:
        if str(path) in _STDIN_NAMES:
            raise click.BadParameter(
                f"{path}: reading from standard input is not supported; "
                "save the input to a file and scan that file (or its folder)"
            )
    return value


paths_argument = click.argument(
    "paths",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, allow_dash=True, path_type=Path),
    callback=reject_stdin,
)


def env_name(option: click.Option) -> str:
    """``--fail-on`` → ``TALOSAUDIT_FAIL_ON``."""
    longest = max(option.opts, key=len).lstrip("-")
    return f"{ENV_PREFIX}_{longest.upper().replace('-', '_')}"


def read_options_from_env(group: click.Group) -> None:
    """Give every option of every command (except --help and --version) its
    ``TALOSAUDIT_<OPTION>`` environment variable, shown in ``--help``."""
    commands: list[click.Command] = [group]
    while commands:
        command = commands.pop()
        if isinstance(command, click.Group):
            commands.extend(command.commands.values())
        for param in command.params:
            if isinstance(param, click.Option) and param.expose_value and param.envvar is None:
                param.envvar = env_name(param)
                param.show_envvar = True


__all__ = [
    "EXIT_CANNOT_RUN",
    "EXIT_CLEAN",
    "EXIT_FINDINGS",
    "AuditOptions",
    "CannotRun",
    "ModelOptions",
    "audit_options",
    "color_wanted",
    "exit_code",
    "fails",
    "model_options",
    "paths_argument",
    "policy_dir_option",
    "read_options_from_env",
]
