"""``talosaudit live``: audit the security groups that are deployed in AWS.

cli.py registers this command (``cli.add_command(live)``). The options, request building and
report tail shared with ``scan`` (and the exit code) come from cli_common.py, which imports
neither command module. The progress bar goes to stderr only, and only when stderr is a
terminal and ``--quiet`` is not given.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from talosaudit.cli_options import AuditOptions, CannotRun, audit_options
from talosaudit.collectors.aws_live.defaults import DEFAULT_DIR, DEFAULT_MAX_ATTEMPTS


@click.command(short_help="Audit the security groups deployed in AWS.")
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
@audit_options(no_cache_help="do not cache parsed Terraform files")
@click.option(
    "--category",
    default="",
    help="SARIF automationDetails.id, e.g. talosaudit/live/eu-west-1/ (none by default)",
)
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
    opts: AuditOptions,
    category: str,
) -> None:
    """Audit the security groups deployed in AWS (--region R, repeatable, or --all-regions)."""
    from talosaudit.cli_common import emit, parse_outputs, say, scan_request
    from talosaudit.collectors.aws_live.fetch import AwsOptions
    from talosaudit.live import LiveRequest, read_summary, run_live
    from talosaudit.report.safe import visible

    if not regions and not all_regions:
        raise click.UsageError("give --region REGION (repeatable) or --all-regions")
    files = parse_outputs(opts.outputs)
    request = LiveRequest(
        scan=scan_request(opts, paths=(), first_scanned=terraform or Path.cwd()),
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
        len(regions) if not all_regions else None, enabled=not opts.quiet and sys.stderr.isatty()
    ) as progress:
        outcome = run_live(request, progress, progress.retry if progress else None)
    for line in read_summary(outcome):
        if line.startswith("warning:"):
            click.echo(visible(line), err=True)  # a region that failed is said even with --quiet
        else:
            say(line, opts.quiet)
    if outcome.nothing_read:
        raise CannotRun("no AWS region could be read (see the warnings above)")
    emit(ctx, outcome.result, request.scan, opts, files=files, category=category)


class RegionProgress:
    """The progress line: one step per region read (or failed), and botocore's retries as
    they happen ("us-east-1 retry 2/9, 5 in this region"), so a throttled or stalled run
    shows why it is slow."""

    def __init__(self, update: Callable[..., None], refresh: Callable[[], None]) -> None:
        self._update = update
        #: Draw now (rich otherwise redraws on its own timer).
        self.refresh = refresh

    def __call__(self, region: str, ok: bool) -> None:
        self._update(advance=1, description=f"{region} {'done' if ok else 'failed'}")

    def retry(self, region: str, retry: int, allowed: int, in_region: int) -> None:
        self._update(description=f"{region} retry {retry}/{allowed}, {in_region} in this region")


@contextmanager
def _progress(total: int | None, *, enabled: bool) -> Iterator[RegionProgress | None]:
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
        yield RegionProgress(lambda **fields: bar.update(task, **fields), bar.refresh)
