"""The command line: parse options, call the library, pick reporters, decide the exit code.

The exit code is decided in ``exit_code()`` (in cli_common.py, re-exported here) and nowhere
else. No traceback reaches the user: every error becomes one clear line on stderr and exit code 2.
"""

from __future__ import annotations

import gc
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from talosaudit import __version__
from talosaudit.cli_live import live
from talosaudit.cli_options import (
    ENV_PREFIX,
    EXIT_CANNOT_RUN,
    AuditOptions,
    CannotRun,
    ModelOptions,
    audit_options,
    color_wanted,
    exit_code,
    model_options,
    paths_argument,
    policy_dir_option,
    read_options_from_env,
)

if TYPE_CHECKING:
    from talosaudit.scan import ScanRequest

#: ``exit_code`` is re-exported: callers and tests use ``talosaudit.cli.exit_code``.
__all__ = ["cli", "exit_code", "main"]


def _expected_errors() -> tuple[type[Exception], ...]:
    """Errors that mean "cannot run" and carry a message meant for the user."""
    # Imported when a command fails, not at startup: scan.py pulls in every collector.
    from talosaudit.config import ConfigError
    from talosaudit.findings import BaselineError
    from talosaudit.policies.registry import PolicyError
    from talosaudit.scan import ScanError

    return (ConfigError, BaselineError, ScanError, PolicyError)


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
            raise click.exceptions.Exit(EXIT_CANNOT_RUN) from None
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


@click.group(
    cls=_Guarded,
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": ENV_PREFIX},
)
@click.version_option(__version__, prog_name="talosaudit")
def cli() -> None:
    """Audit the network exposure of Talos Linux Kubernetes clusters.

    Every option can also be set as an environment variable TALOSAUDIT_<OPTION>
    (--fail-on: TALOSAUDIT_FAIL_ON), shown in each command's --help.
    """


# --- scan ------------------------------------------------------------------------------


@cli.command(short_help="Audit Terraform, Talos, Proxmox and pfSense inputs.")
@paths_argument
@audit_options(no_cache_help="do not cache parsed files")
@click.option(
    "--category",
    default="",
    help="SARIF automationDetails.id (none by default: the upload's category applies)",
)
@click.pass_context
def scan(ctx: click.Context, *, paths: tuple[Path, ...], opts: AuditOptions, category: str) -> None:
    """Audit the firewall layers defined in PATH... (Terraform, Talos, Proxmox, pfSense).

    A single file is scanned with what it belongs to (a Terraform file with its module), and
    the findings are limited to that file.
    """
    from talosaudit.cli_common import emit, parse_outputs, scan_request
    from talosaudit.scan import run_scan

    if ctx.find_root().obj == _RUN_AS_COMMAND:
        # What the imports built lives until exit: keep the cyclic collector from walking
        # it again at every collection (about a tenth of a warm scan of a large tree). Not
        # when the CLI runs inside another program (tests): freezing is for the whole process.
        gc.freeze()
    files = parse_outputs(opts.outputs)
    request = scan_request(opts, paths=paths, first_scanned=paths[0])
    emit(ctx, run_scan(request), request, opts, files=files, category=category)


# --- graph and why ------------------------------------------------------------------


@cli.command(short_help="Node groups, roles and why, and the required-flow matrix.")
@paths_argument
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "mermaid", "dot", "html"]),
    default="text",
    show_default=True,
    help="text: the matrix (in colour on a terminal); json: every node group and flow with full "
    "addresses; mermaid/dot: the role-level picture; html: the self-contained report",
)
@model_options
def graph(*, paths: tuple[Path, ...], fmt: str, model_opts: ModelOptions) -> None:
    """Node groups as roles, and the matrix of required flows (✓ allowed, ✗ blocked, ? unknown)
    and forbidden exposures between roles, the admin networks and the internet."""
    from talosaudit.cli_common import model_request
    from talosaudit.explain import graph_data
    from talosaudit.model.secrets import redact_secrets
    from talosaudit.report.graph import GRAPH_FORMATS, render_graph_text, render_rooted_graph
    from talosaudit.scan import build_models, request_catalogue

    request = model_request(model_opts, paths=paths, first_scanned=paths[0])
    if fmt == "html":
        click.echo(_html_report(request), nl=False)
        return
    catalogue = request_catalogue(request)
    models = build_models(request, catalogue=catalogue)
    color = fmt == "text" and color_wanted(os.environ, sys.stdout is not None and sys.stdout.isatty())
    if models.several:
        sections = [(root, graph_data(model, catalogue)) for root, model in models.by_root]
        text = render_rooted_graph(fmt, sections, color=color)
    else:
        data = graph_data(models.by_root[0][1], catalogue)
        text = render_graph_text(data, color=color) if fmt == "text" else GRAPH_FORMATS[fmt](data)
    # click strips ANSI codes from a pipe unless told: FORCE_COLOR is meant for pipes.
    click.echo(redact_secrets(text, models.secrets), nl=False, color=color)


def _html_report(request: ScanRequest) -> str:
    """The HTML report of ``graph --format html``: the scan's findings and the matrix."""
    from talosaudit.cli_common import picture
    from talosaudit.model.secrets import redact_secrets
    from talosaudit.report.base import Report
    from talosaudit.report.html import render_html
    from talosaudit.scan import run_scan

    result = run_scan(request)
    report = Report(
        findings=result.findings,
        policies=result.policies,
        root=request.root,
        suppressed=result.suppressed,
        facts=result.facts,
        files=result.files,
        duration=result.duration,
        notices=result.notices,
        facts_by_root=result.facts_by_root,
        graphs=picture(result, request, with_traces=True),
    )
    return redact_secrets(render_html(report), result.model.secrets)


@cli.command(short_help="Trace one flow layer by layer: what allows or blocks it.")
@paths_argument
@click.option(
    "--from",
    "source",
    required=True,
    metavar="END",
    help="where the flow starts: a role (control-plane, worker, nodes), admin (the admin "
    "networks), internet, anywhere, a node group name, a CIDR (10.0.0.0/16) or an address",
)
@click.option(
    "--to",
    "destination",
    required=True,
    metavar="END",
    help="where the flow goes: a role (control-plane, worker, nodes), admin, internet, "
    "anywhere, a node group name, a CIDR or an address",
)
@click.option("--port", "flow", required=True, metavar="PORT/PROTO", help="e.g. 50001/tcp, udp/4789, all")
@model_options
def why(
    *,
    paths: tuple[Path, ...],
    source: str,
    destination: str,
    flow: str,
    model_opts: ModelOptions,
) -> None:
    """Whether one flow gets through, then its layer-by-layer trace per distinct path (per
    Terraform root module when several are scanned).

    Exit code: 0 when the flow is allowed on every path, 1 when it is blocked, partly blocked
    or unknown on some path, 2 on a usage error.
    """
    from talosaudit.cli_common import model_request
    from talosaudit.explain import ExplainError, all_allowed, parse_flow, render_why, trace
    from talosaudit.model.secrets import redact_secrets
    from talosaudit.report.safe import visible
    from talosaudit.scan import build_models, request_catalogue

    try:
        parse_flow(flow)
    except ExplainError as exc:
        raise click.BadParameter(str(exc), param_hint="--port") from exc
    request = model_request(model_opts, paths=paths, first_scanned=paths[0])
    catalogue = request_catalogue(request)
    models = build_models(request, catalogue=catalogue)
    out: list[str] = []
    allowed = True
    for root, model in models.by_root:
        try:
            traces = trace(model, source, destination, flow, catalogue)
        except ExplainError as exc:
            raise CannotRun(f"{exc} (root {root})" if root else str(exc)) from exc
        header = f"== root {visible(root)} ==\n" if root else ""
        out.append(header + render_why(traces, (source, destination)))
        allowed = allowed and all_allowed(traces)
    click.echo(redact_secrets("\n".join(out), models.secrets), nl=False)
    if not allowed:
        raise click.exceptions.Exit(1)


# --- policies --------------------------------------------------------------------------


@cli.group(short_help="The rule catalogue: list, show.")
def policies() -> None:
    """The rule catalogue."""


@policies.command("list")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="one line per rule, or a JSON list (id, name, level, title, kind, tags, ...)",
)
@policy_dir_option
def policies_list(fmt: str, policy_dirs: tuple[Path, ...]) -> None:
    """Every rule: id, level, name and what it checks."""
    from talosaudit.policies.registry import load_catalogue

    catalogue = load_catalogue(list(policy_dirs))
    ordered = sorted(catalogue.policies, key=lambda p: p.id)
    if fmt == "json":
        import json

        rows = [
            {
                "id": p.id,
                "name": p.name,
                "level": p.level.value,
                "security_severity": p.security_severity,
                "title": p.title,
                "kind": p.kind,
                "tags": list(p.tags),
            }
            for p in ordered
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    for p in ordered:
        click.echo(f"{p.id}  {p.level.value:<7}  {p.name:<32}  {p.title}")


@policies.command("show")
@click.argument("rule", metavar="ID|NAME")
@policy_dir_option
def policies_show(rule: str, policy_dirs: tuple[Path, ...]) -> None:
    """One rule (by id, TA201, or name, talos-api-public) with its rationale, remediation and
    parameters."""
    from talosaudit.policies.registry import load_catalogue

    catalogue = load_catalogue(list(policy_dirs))
    wanted = rule.strip()
    found = next((p for p in catalogue.policies if p.id == wanted.upper() or p.name == wanted.lower()), None)
    if found is None:
        raise CannotRun(f"no rule {rule!r} (see `talosaudit policies list`)")
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


cli.add_command(live)
read_options_from_env(cli)


#: The context object of a run started by ``main()`` (the console script, ``python -m
#: talosaudit``): the CLI owns the process.
_RUN_AS_COMMAND = "talosaudit-command"


def main() -> None:
    cli(prog_name="talosaudit", obj=_RUN_AS_COMMAND)
