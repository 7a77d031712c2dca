"""``talosaudit live``: audit the security groups that are deployed in AWS.

cli.py registers this command (``cli.add_command(live)``). The helpers shared with ``scan``
(exit codes, output files, config lookup) are imported from cli.py when the command runs,
so that importing either module first works. The progress bar goes to stderr only, and
only when stderr is a terminal and ``--quiet`` is not given.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from talosaudit.collectors.aws_live.fetch import DEFAULT_MAX_ATTEMPTS
from talosaudit.collectors.aws_live.snapshot import DEFAULT_DIR
from talosaudit.report import FORMATS

FAIL_ON_CHOICES = ("note", "warning", "error", "never")
LEVEL_CHOICES = ("note", "warning", "error")


@click.command()
@click.option("--region", "regions", multiple=True, metavar="REGION", help="AWS region to read (repeatable)")
@click.option("--all-regions", is_flag=True, help="every region enabled for the account")
@click.option("--profile", default=None, help="AWS profile from the shared config/credentials files")
@click.option("--role-arn", default=None, help="assume this role (sts:AssumeRole) before reading")
@click.option("--external-id", default=None, help="ExternalId for --role-arn")
@click.option("--vpc-id", "vpc_ids", multiple=True, metavar="VPC", help="only these VPCs (repeatable)")
@click.option(
    "--terraform",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="the Terraform that declares the groups: findings point at its lines; drift (TA503/TA504)",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(min=1, max=50),
    default=DEFAULT_MAX_ATTEMPTS,
    show_default=True,
    help="attempts per AWS call (botocore standard retry mode)",
)
@click.option(
    "--snapshot-dir",
    default=DEFAULT_DIR,
    show_default=True,
    help="where the snapshot of what was read is written, relative to the root",
)
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
@click.option("--no-cache", is_flag=True, help="do not cache parsed Terraform files")
@click.option(
    "--quiet", "-q", is_flag=True, help="no progress bar, no text report when writing files with -o"
)
@click.option("--root", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None)
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="parser processes [CPUs, max 4]")
@click.option("--show-suppressed", is_flag=True, help="show suppressed findings (and put them in SARIF)")
@click.option("--category", default=None, help="SARIF automationDetails.id [talosaudit/live/<regions>/]")
@click.pass_context
def live(
    ctx: click.Context,
    *,
    regions: tuple[str, ...],
    all_regions: bool,
    profile: str | None,
    role_arn: str | None,
    external_id: str | None,
    vpc_ids: tuple[str, ...],
    terraform: Path | None,
    max_attempts: int,
    snapshot_dir: str,
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
    category: str | None,
) -> None:
    """Audit the security groups deployed in AWS (--region R, repeatable, or --all-regions)."""
    from talosaudit import cli as base
    from talosaudit.collectors.aws_live.fetch import AwsOptions
    from talosaudit.config import find_config, load_config
    from talosaudit.findings import write_baseline
    from talosaudit.live import LiveRequest, default_category, read_summary, run_live
    from talosaudit.policies.schema import Level
    from talosaudit.report.base import Report
    from talosaudit.report.text import render_text
    from talosaudit.scan import ScanRequest, find_root, parse_rule_selection

    if not regions and not all_regions:
        raise click.UsageError("give --region REGION (repeatable) or --all-regions")
    files = base._parse_outputs(outputs)
    cwd = Path.cwd()
    scan_root = find_root(root, cwd)
    config_path = find_config(config_file, terraform or cwd, cwd)
    config = load_config(config_path)
    env = dict(os.environ)
    level_floor = min_level or (config.min_level.value if config.min_level else None)
    request = LiveRequest(
        scan=ScanRequest(
            paths=(),
            root=scan_root,
            config=config,
            config_name=base._display_path(config_path, scan_root) if config_path else ".talosaudit.yaml",
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
            cache_dir=None if no_cache else base.default_cache_dir(env),
            jobs=jobs or base.default_jobs(),
            env=env,
        ),
        aws=AwsOptions(
            regions=regions,
            all_regions=all_regions,
            profile=profile,
            role_arn=role_arn,
            external_id=external_id,
            vpc_ids=vpc_ids,
            max_attempts=max_attempts,
        ),
        terraform=terraform,
        snapshot_dir=snapshot_dir,
    )
    with _progress(
        len(regions) if not all_regions else None, enabled=not quiet and sys.stderr.isatty()
    ) as tick:
        outcome = run_live(request, tick)
    for line in read_summary(outcome):
        if line.startswith("warning:"):
            click.echo(line, err=True)  # a region that failed is said even with --quiet
        else:
            base._say(line, quiet)
    if outcome.nothing_read:
        raise base.CannotRun("no AWS region could be read (see the warnings above)")
    result = outcome.result

    if create_baseline is not None:
        count = write_baseline(create_baseline, result.baseline_candidates)
        base._say(f"wrote {count} finding{'s' if count != 1 else ''} to baseline {create_baseline}", quiet)
        ctx.exit(base.exit_code(result.findings, "never"))

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
        category=category or default_category(outcome.regions),
        show_suppressed=show_suppressed,
    )
    for out_fmt, out_file in files:
        out_file.write_text(FORMATS[out_fmt](report), encoding="utf-8")
        base._say(f"wrote {out_fmt} report to {out_file}", quiet)
    stdout_fmt = fmt or ("text" if not files or not quiet else None)
    if stdout_fmt == "text":
        click.echo(render_text(report, color=base._color_wanted()), nl=False)
    elif stdout_fmt is not None:
        click.echo(FORMATS[stdout_fmt](report), nl=False)
    if stdout_fmt != "text":
        for notice in result.notices:
            base._say(f"notice: {notice}", quiet)
    if "github" in {stdout_fmt, *(f for f, _ in files)}:
        base._write_step_summary(report, env)
    ctx.exit(base.exit_code(result.findings, fail_on or config.fail_on or "error"))


@contextmanager
def _progress(total: int | None, *, enabled: bool) -> Iterator[Callable[[str, bool], None] | None]:
    """A rich progress bar on stderr, advanced once per region read (or failed)."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("reading AWS regions"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("", total=total)

        def tick(region: str, ok: bool) -> None:
            bar.update(task, advance=1, description=f"{region} {'done' if ok else 'failed'}")

        yield tick
