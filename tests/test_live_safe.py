"""Issue 12 section 4, live: names from the API never become paths outside the snapshot,
snapshots are replaced atomically, and stalled endpoints are bounded.

Against the moto server of tests/live_support.py; botocore ``after-call`` hooks rewrite what
the API returned, as a compromised or buggy endpoint would.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from live_support import ADMIN_CIDR, REGION, MotoServer, build_seed
from talosaudit.cli import cli
from talosaudit.collectors.aws_live.fetch import AwsOptions
from talosaudit.live import LiveRequest, LiveResult, run_live
from talosaudit.scan import ScanError, ScanRequest
from talosaudit.settings import CommandLine


class Rewriting:
    """A boto3.Session factory whose sessions rewrite one operation's parsed answer."""

    def __init__(self, event: str, rewrite: Callable[[dict[str, Any]], None]) -> None:
        self.event = event
        self.rewrite = rewrite

    def __call__(self, **kwargs: Any) -> boto3.Session:
        session = boto3.Session(**kwargs)
        session.events.register(self.event, self._hook)
        return session

    def _hook(self, parsed: dict[str, Any], **_: Any) -> None:
        self.rewrite(parsed)


def live(root: Path, factory: Any = boto3.Session, regions: tuple[str, ...] = (REGION,)) -> LiveResult:
    scan = ScanRequest(
        paths=(),
        root=root,
        cli=CommandLine(cni="cilium", tunnel="geneve", admin_cidrs=(ADMIN_CIDR,)),
        cache_dir=None,
        env={},
    )
    return run_live(LiveRequest(scan=scan, aws=AwsOptions(regions=regions), session_factory=factory))


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_an_account_id_that_climbs_out_is_refused(aws_env: MotoServer, tmp_path: Path) -> None:
    build_seed()
    root = tmp_path / "a" / "b" / "c"
    root.mkdir(parents=True)
    (tmp_path / "keep.json").write_text("{}", encoding="utf-8")
    factory = Rewriting("after-call.sts.GetCallerIdentity", lambda p: p.update(Account="../../.."))
    with pytest.raises(ScanError, match=r"the AWS account id '\.\./\.\./\.\.' is not 12 digits"):
        live(root, factory)
    assert _files(tmp_path) == {"keep.json"}


def test_a_group_id_that_climbs_out_fails_the_region_only(aws_env: MotoServer, tmp_path: Path) -> None:
    build_seed()

    def rewrite(parsed: dict[str, Any]) -> None:
        parsed["SecurityGroups"][0]["GroupId"] = "../../../escaped"

    result = live(tmp_path / "root", Rewriting("after-call.ec2.DescribeSecurityGroups", rewrite))
    assert result.regions == ()
    [failure] = result.failures
    assert failure.message == (
        f"{REGION}: ValueError: the API returned a GroupId '../../../escaped' not in AWS's format"
    )
    assert not list(tmp_path.rglob("escaped*"))
    assert _files(tmp_path / "root") == {f"talosaudit-live/123456789012/{REGION}/index.json"}


def test_a_region_name_that_climbs_out_is_refused_before_any_call(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["live", "--region", "../../etc", "--root", str(tmp_path), "--no-cache"], catch_exceptions=False
    )
    assert result.exit_code == 2
    assert "Error: not an AWS region name: '../../etc'" in result.stderr
    assert _files(tmp_path) == set()


def test_a_stalled_endpoint_is_bounded_per_attempt(tmp_path: Path) -> None:
    """A server that accepts and never answers: each attempt ends at the read timeout."""
    import socket
    import time

    from talosaudit.collectors.aws_live.defaults import DEFAULT_MAX_ATTEMPTS
    from talosaudit.collectors.aws_live.fetch import client_config

    config = client_config(AwsOptions())
    worst = DEFAULT_MAX_ATTEMPTS * (config.connect_timeout + config.read_timeout)
    assert worst <= 300, f"{DEFAULT_MAX_ATTEMPTS} attempts could take {worst} s"

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        session = boto3.Session(aws_access_key_id="AKIAFAKEFAKEFAKEFAKE", aws_secret_access_key="x" * 40)
        options = AwsOptions(max_attempts=2, read_timeout=0.5, connect_timeout=0.5)
        client = session.client(
            "sts",
            region_name="us-east-1",
            endpoint_url=f"http://127.0.0.1:{port}",
            config=client_config(options),
        )
        started = time.monotonic()
        with pytest.raises(Exception, match="timeout"):
            client.get_caller_identity()
        assert time.monotonic() - started < 10
