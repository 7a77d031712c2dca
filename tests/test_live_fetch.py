"""Reading AWS: retries on throttling, failing regions, paging, prefix lists (moto server).

Errors are injected with botocore ``before-send`` event hooks on a real boto3 session: the
request is built, signed and retried by botocore as in production; the hook answers in place
of the server for the calls it wants to fail and lets the others reach moto.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from live_support import (
    ADMIN_CIDR,
    FAKE_KEY_ID,
    FAKE_SECRET,
    FAKE_TOKEN,
    REGION,
    MotoServer,
    build_seed,
    free_port,
)
from talosaudit.collectors.aws_live.convert import convert_region
from talosaudit.collectors.aws_live.fetch import AwsOptions, fetch_region, open_session
from talosaudit.collectors.aws_live.snapshot import render_region
from talosaudit.live import LiveRequest, LiveResult, run_live
from talosaudit.scan import ScanError, ScanRequest
from talosaudit.settings import CommandLine

ACCOUNT = "123456789012"
OTHER_REGION = "us-east-1"
THROTTLED = (
    b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>RequestLimitExceeded</Code>'
    b"<Message>Request limit exceeded.</Message></Error></Errors><RequestID>x</RequestID></Response>"
)
DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>UnauthorizedOperation</Code>'
    b"<Message>You are not authorized to perform this operation.</Message></Error></Errors>"
    b"<RequestID>y</RequestID></Response>"
)


class Hooked:
    """A boto3.Session factory that registers one before-send hook on every session."""

    def __init__(self, event: str, answer: Callable[[Any], AWSResponse | None]) -> None:
        self.event = event
        self.answer = answer
        self.calls: list[str] = []

    def __call__(self, **kwargs: Any) -> boto3.Session:
        session = boto3.Session(**kwargs)
        session.events.register(self.event, self._hook)
        return session

    def _hook(self, request: Any, **_: Any) -> AWSResponse | None:
        auth = request.headers.get("Authorization", b"")
        text = auth.decode() if isinstance(auth, bytes) else str(auth)
        region = text.split("Credential=", 1)[-1].split("/")[2] if "Credential=" in text else ""
        self.calls.append(region)
        return self.answer(region)


def response(status: int, body: bytes) -> AWSResponse:
    return AWSResponse("https://ec2.amazonaws.com/", status, {}, _Raw(body))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


def live(
    root: Path,
    factory: Any,
    regions: tuple[str, ...] = (REGION,),
    max_attempts: int = 10,
    on_retry: Callable[[str, int, int, int], None] | None = None,
) -> LiveResult:
    return run_live(
        LiveRequest(
            scan=ScanRequest(
                paths=(),
                root=root,
                cli=CommandLine(cni="cilium", tunnel="geneve", admin_cidrs=(ADMIN_CIDR,)),
                cache_dir=None,
                env={},
            ),
            aws=AwsOptions(regions=regions, max_attempts=max_attempts),
            session_factory=factory,
        ),
        on_retry=on_retry,
    )


def test_throttled_calls_are_retried_and_the_run_succeeds(aws_env: MotoServer, tmp_path: Path) -> None:
    seed = build_seed()
    seed.delete_rule("control_plane_talos_trustd")
    throttled = 2  # each retry sleeps up to 2**n s (jittered): two keep the test short

    def answer(_: str) -> AWSResponse | None:
        return response(503, THROTTLED) if len(hook.calls) <= throttled else None

    hook = Hooked("before-send.ec2.DescribeSecurityGroupRules", answer)
    seen: list[tuple[str, int, int, int]] = []
    result = live(tmp_path, hook, max_attempts=3, on_retry=lambda *event: seen.append(event))
    # Two throttled attempts, then the third (the last one allowed) reached moto: botocore's
    # standard mode retried.
    assert hook.calls == [REGION] * 3
    # Each retry was reported as it happened (what the progress line shows): (region, retry
    # of the call, retries allowed per call, retries in the region so far).
    assert seen == [(REGION, 1, 2, 1), (REGION, 2, 2, 2)]
    assert result.failures == ()
    assert [f.rule_id for f in result.result.findings] == ["TA103"]


def test_max_attempts_bounds_the_retries(aws_env: MotoServer, tmp_path: Path) -> None:
    build_seed()
    hook = Hooked("before-send.ec2.DescribeSecurityGroupRules", lambda _: response(503, THROTTLED))
    result = live(tmp_path, hook, max_attempts=2)
    assert hook.calls == [REGION, REGION]
    assert result.nothing_read
    (failure,) = result.failures
    assert failure.kind == "error" and "RequestLimitExceeded" in failure.message


def test_a_denied_region_is_reported_and_the_other_is_audited(aws_env: MotoServer, tmp_path: Path) -> None:
    seed = build_seed()
    seed.delete_rule("control_plane_talos_trustd")
    # An earlier run could read both regions: its snapshot of the other region's default group.
    earlier = live(tmp_path, boto3.Session, regions=(REGION, OTHER_REGION)).snapshot_files
    (kept,) = [p for p in earlier if p.startswith(f"talosaudit-live/{ACCOUNT}/{OTHER_REGION}/sg-")]
    hook = Hooked("before-send.ec2", lambda region: response(403, DENIED) if region == OTHER_REGION else None)
    result = live(tmp_path, hook, regions=(REGION, OTHER_REGION))
    assert result.regions == (REGION,)
    (failure,) = result.failures
    assert failure.region == OTHER_REGION and failure.kind == "access-denied"
    assert failure.message.startswith(
        f"{OTHER_REGION}: UnauthorizedOperation in DescribeSecurityGroups: You are not authorized"
    )
    found = {f.rule_id: f for f in result.result.findings}
    assert sorted(found) == ["TA001", "TA103"]
    ta001 = found["TA001"]
    index = f"talosaudit-live/{ACCOUNT}/{OTHER_REGION}/index.json"
    assert ta001.location.path == index and ta001.level.value == "error"
    assert ta001.message.startswith(f"AWS region {OTHER_REGION}: UnauthorizedOperation")
    assert "its security groups were not audited" in ta001.message
    lines = (tmp_path / index).read_text().splitlines()
    assert '"Error": "us-east-1: UnauthorizedOperation' in lines[ta001.location.start_line - 1].strip()
    assert found["TA103"].location.path == f"talosaudit-live/{ACCOUNT}/{REGION}/{seed.cp}.json"
    # A region that could not be read keeps its earlier files (its groups may well exist).
    assert (tmp_path / kept).is_file() and kept not in result.snapshot_files


def echo_authorization(request: Any, **_: Any) -> AWSResponse:
    """AWS's IncompleteSignature answer, which quotes the request's Authorization header
    (seen from STS and EC2 when a key holds a stray space)."""
    raw = request.headers.get("Authorization", b"")
    auth = raw.decode() if isinstance(raw, bytes) else str(raw)
    scope = auth.split("Credential=", 1)[1].split(",", 1)[0]
    message = f"'{scope}' not a valid key=value pair (missing equal-sign) in Authorization header: '{auth}'."
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>IncompleteSignature</Code>'
        f"<Message>{message}</Message></Error></Errors><RequestID>z</RequestID></Response>"
    )
    return response(400, body.encode())


class Echoing(Hooked):
    def __init__(self, event: str) -> None:
        super().__init__(event, lambda _: None)

    def _hook(self, request: Any, **_: Any) -> AWSResponse | None:
        raw = request.headers.get("Authorization", b"")
        self.calls.append(raw.decode() if isinstance(raw, bytes) else str(raw))
        return echo_authorization(request)


@pytest.mark.parametrize("key_id", [FAKE_KEY_ID, FAKE_SECRET], ids=["key-id", "secret-pasted-as-key-id"])
def test_credentials_echoed_by_aws_are_redacted_everywhere(
    aws_env: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key_id: str
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    hook = Echoing("before-send.ec2.DescribeSecurityGroups")
    result = live(tmp_path, hook)
    (signature,) = {auth.rsplit("Signature=", 1)[1] for auth in hook.calls}
    (failure,) = result.failures
    assert failure.message == (
        f"{REGION}: IncompleteSignature in DescribeSecurityGroups: '<redacted>/"
        f"{hook.calls[0].split('/')[1]}/{REGION}/ec2/aws4_request' not a valid key=value pair (missing "
        "equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential=<redacted>/"
        f"{hook.calls[0].split('/')[1]}/{REGION}/ec2/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=<redacted>'."
    )
    (ta001,) = result.result.findings
    everything = [failure.message, ta001.message]
    everything += [p.read_text() for p in (tmp_path / "talosaudit-live").rglob("*.json")]
    assert "IncompleteSignature" in everything[-1]
    for text in everything:
        for secret in (key_id, FAKE_SECRET, FAKE_TOKEN, signature):
            assert secret not in text

    # The account itself cannot be read (STS): exit 2 with the same redaction.
    with pytest.raises(ScanError) as caught:
        live(tmp_path, Echoing("before-send.sts.GetCallerIdentity"))
    text = str(caught.value)
    assert text.startswith(
        "cannot read the AWS account: IncompleteSignature in GetCallerIdentity: '<redacted>/"
    )
    assert "Signature=<redacted>'" in text
    for secret in (key_id, FAKE_SECRET, FAKE_TOKEN):
        assert secret not in text


def test_paging_describe_instances_is_real_in_moto(aws_env: MotoServer) -> None:
    # moto pages describe_instances by reservation; it ignores MaxResults for
    # describe_security_groups, _rules, _vpcs, _subnets, _network_acls and
    # _managed_prefix_lists (one page, no NextToken): those loops are the same paginator
    # code, exercised against AWS only (docs/live.md says so).
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    groups = [
        ec2.create_security_group(GroupName=f"g{i}", Description="d", VpcId=vpc)["GroupId"] for i in range(12)
    ]
    for i, gid in enumerate(groups):
        ec2.authorize_security_group_ingress(
            GroupId=gid, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 1000 + i, "ToPort": 1000 + i,
                                         "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}]
        )  # fmt: skip
    launched = [
        ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet, SecurityGroupIds=[gid]
        )["Instances"][0]["InstanceId"]
        for gid in groups
    ]
    sent: list[str] = []
    factory = Hooked("before-send.ec2", lambda _: None)
    options = AwsOptions(regions=(REGION,), page_size=5, vpc_ids=(vpc,))
    session = open_session(options, factory)
    session.boto.events.register("before-send.ec2", lambda request, **_: sent.append(_operation(request)))
    data = fetch_region(session, REGION, options)
    assert sorted(i["InstanceId"] for i in data.instances) == sorted(launched)
    assert sorted(g["GroupId"] for g in data.security_groups) == sorted([*groups, _default_group(ec2, vpc)])
    ports = sorted(r["FromPort"] for r in data.rules if not r["IsEgress"])
    assert ports == list(range(1000, 1012))
    # Every list call asked for pages of 5; moto answered DescribeInstances in 3 pages
    # (5 + 5 + 2 reservations, following NextToken) and every other call in one page.
    assert sent == [
        "DescribeSecurityGroups MaxResults=5",
        "DescribeSecurityGroupRules MaxResults=5",
        "DescribeInstances MaxResults=5",
        "DescribeInstances MaxResults=5 NextToken",
        "DescribeInstances MaxResults=5 NextToken",
        "DescribeVpcs MaxResults=5",
        "DescribeSubnets MaxResults=5",
        "DescribeNetworkAcls MaxResults=5",
    ]


def _operation(request: Any) -> str:
    """``Action MaxResults=N [NextToken]`` of a query-protocol request."""
    body = request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")
    params = dict(p.split("=", 1) for p in body.split("&") if "=" in p)
    out = params.get("Action", "")
    if "MaxResults" in params:
        out += f" MaxResults={params['MaxResults']}"
    return out + (" NextToken" if "NextToken" in params else "")


def _default_group(ec2: Any, vpc: str) -> str:
    found = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )
    return str(found["SecurityGroups"][0]["GroupId"])


def test_prefix_lists_customer_expanded_aws_managed_as_label(aws_env: MotoServer) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    seed = build_seed()
    customer = ec2.create_managed_prefix_list(
        PrefixListName="office",
        MaxEntries=5,
        AddressFamily="IPv4",
        Entries=[{"Cidr": "203.0.113.0/28", "Description": "hq"}, {"Cidr": "198.51.100.0/29"}],
    )["PrefixList"]["PrefixListId"]
    managed = next(p for p in ec2.describe_managed_prefix_lists()["PrefixLists"] if p["OwnerId"] == "AWS")[
        "PrefixListId"
    ]
    for pl in (customer, managed):
        ec2.authorize_security_group_ingress(
            GroupId=seed.worker,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListIds": [{"PrefixListId": pl}]}
            ],
        )
    options = AwsOptions(regions=(REGION,))
    data = fetch_region(open_session(options), REGION, options)
    (scope,) = [s for s in convert_region(data, render_region(data)) if s.vpc == seed.vpc]
    worker = next(layer for layer in scope.collection.layers if layer.id == seed.worker)
    peers = {r.peer.describe() for r in worker.rules if r.ports.values.intervals == ((443, 443),)}
    assert peers == {
        "prefix list office (198.51.100.0/29, 203.0.113.0/28)",
        f"prefix list {_name(data, managed)} ({managed}): service ranges of that list, not the internet; "
        "its entries are AWS-managed",
    }
    labels = {g for r in worker.rules for g in r.peer.groups}
    assert f"prefix-list:{managed}" in labels


def _name(data: Any, ident: str) -> str:
    return next(p.name for p in data.prefix_lists if p.id == ident)


def test_nothing_readable_is_exit_2_without_secrets(aws_env: MotoServer, tmp_path: Path) -> None:
    # STS answers (moto), every EC2 endpoint refuses connections: no region could be read.
    env = {
        **os.environ,
        **aws_env.env(),
        "AWS_ENDPOINT_URL_EC2": f"http://127.0.0.1:{free_port()}",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }
    proc = subprocess.run(
        ["talosaudit", "live", "--region", REGION, "--region", OTHER_REGION, "--max-attempts", "1"],
        check=False, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert f"warning: region {OTHER_REGION}: cannot connect" in proc.stderr
    assert f"warning: region {REGION}: cannot connect" in proc.stderr
    assert "Error: no AWS region could be read" in proc.stderr
    assert proc.stdout == ""
    for secret in (FAKE_KEY_ID, FAKE_SECRET, FAKE_TOKEN):
        assert secret not in proc.stderr


def test_missing_credentials_is_exit_2(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
    }
    proc = subprocess.run(
        ["talosaudit", "live", "--region", REGION, "--max-attempts", "1"],
        check=False, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Error: no AWS credentials found" in proc.stderr


def test_docs_iam_policy_is_exactly_the_actions_called(aws_env: MotoServer) -> None:
    import json
    import re

    from talosaudit.collectors.aws_live.fetch import IAM_ACTIONS, enabled_regions

    text = (Path(__file__).resolve().parents[1] / "docs" / "live.md").read_text()
    block = re.search(r"## Least-privilege IAM policy.*?```json\n(.*?)```", text, re.S)
    assert block is not None
    (statement,) = json.loads(block.group(1))["Statement"]
    assert tuple(statement["Action"]) == IAM_ACTIONS

    # Every call a full read makes (prefix lists of both kinds, --all-regions) is in the list.
    ec2 = boto3.client("ec2", region_name=REGION)
    seed = build_seed()
    customer = ec2.create_managed_prefix_list(
        PrefixListName="office", MaxEntries=2, AddressFamily="IPv4", Entries=[{"Cidr": "203.0.113.0/28"}]
    )["PrefixList"]["PrefixListId"]
    ec2.authorize_security_group_ingress(
        GroupId=seed.worker,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "PrefixListIds": [{"PrefixListId": customer}],
            }
        ],
    )
    # What botocore actually sends, every service, every session (not the module's own counter).
    sent: list[str] = []

    def factory(**kwargs: Any) -> boto3.Session:
        session = boto3.Session(**kwargs)
        session.events.register(
            "before-call", lambda event_name, **_: sent.append(":".join(event_name.split(".")[1:3]))
        )
        return session

    options = AwsOptions(regions=(REGION,))
    session = open_session(options, factory)
    enabled_regions(session, options)
    fetch_region(session, REGION, options)
    assert set(sent) == set(IAM_ACTIONS)
    # --role-arn adds sts:AssumeRole (a permission on the role, documented next to the policy).
    sent.clear()
    open_session(AwsOptions(role_arn=f"arn:aws:iam::{ACCOUNT}:role/talosaudit-read"), factory)
    assert sent == ["sts:AssumeRole", "sts:GetCallerIdentity"]


def test_role_arn_is_assumed_through_sts(aws_env: MotoServer) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/talosaudit-read"
    bodies: list[str] = []

    def record(**kwargs: Any) -> boto3.Session:
        session = boto3.Session(**kwargs)
        session.events.register("before-send.sts", lambda request, **_: bodies.append(_body(request)))
        return session

    session = open_session(AwsOptions(regions=(REGION,), role_arn=role, external_id="ext-42"), record)
    # moto's STS answers AssumeRole with an assumed-role identity named after the session.
    assert session.account == ACCOUNT
    assert session.caller_arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/talosaudit-read/talosaudit"
    credentials = session.boto.get_credentials()
    assert credentials.access_key != os.environ["AWS_ACCESS_KEY_ID"]
    assert "Action=AssumeRole" in bodies[0] and "ExternalId=ext-42" in bodies[0]
    assert "RoleSessionName=talosaudit" in bodies[0]
    assert "Action=GetCallerIdentity" in bodies[1]


def _body(request: Any) -> str:
    return request.body.decode() if isinstance(request.body, bytes) else str(request.body or "")


def test_profile_and_all_regions(
    aws_env: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from talosaudit.collectors.aws_live.fetch import enabled_regions

    # --profile: the profile's keys sign the requests, not the environment's.
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[audit]\naws_access_key_id = AKIAPROFILEFAKE00001\naws_secret_access_key = profile-secret-1\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    signed: list[str] = []

    def record(**kwargs: Any) -> boto3.Session:
        session = boto3.Session(**kwargs)
        session.events.register(
            "before-send.ec2", lambda request, **_: signed.append(request.headers["Authorization"].decode())
        )
        return session

    options = AwsOptions(profile="audit", all_regions=True)
    session = open_session(options, record)
    assert session.account == ACCOUNT
    # --all-regions: the enabled regions moto reports, that botocore also knows for EC2.
    regions = enabled_regions(session, options)
    (auth,) = signed
    assert "Credential=AKIAPROFILEFAKE00001/" in auth
    assert regions == sorted(regions) and {REGION, OTHER_REGION} <= set(regions)
    assert set(regions) <= set(boto3.Session().get_available_regions("ec2"))
    assert session.calls == {"DescribeRegions": 1}


def test_network_acls_are_stateless_first_match_segment_layers(aws_env: MotoServer) -> None:
    from talosaudit.model import Action, Direction, LayerKind, Placement, Semantics

    ec2 = boto3.client("ec2", region_name=REGION)
    seed = build_seed()
    acl = ec2.create_network_acl(VpcId=seed.vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(
        NetworkAclId=acl,
        RuleNumber=200,
        Protocol="-1",
        RuleAction="allow",
        Egress=False,
        CidrBlock="0.0.0.0/0",
    )
    ec2.create_network_acl_entry(
        NetworkAclId=acl, RuleNumber=100, Protocol="17", RuleAction="deny", Egress=False,
        CidrBlock="10.0.0.0/16", PortRange={"From": 6081, "To": 6081},
    )  # fmt: skip
    options = AwsOptions(regions=(REGION,))
    data = fetch_region(open_session(options), REGION, options)
    (scope,) = [s for s in convert_region(data, render_region(data)) if s.vpc == seed.vpc]
    layer = next(layer for layer in scope.collection.layers if layer.id == acl)
    assert (layer.kind, layer.semantics, layer.placement, layer.stateful) == (
        LayerKind.NETWORK_ACL, Semantics.FIRST_MATCH, Placement.SEGMENT, False,
    )  # fmt: skip
    assert [(r.key, r.action, r.direction, r.protocol, str(r.ports)) for r in layer.rules] == [
        (f"{acl}/ingress/100", Action.DENY, Direction.INGRESS, 17, "6081"),
        (f"{acl}/ingress/200", Action.ALLOW, Direction.INGRESS, None, "all ports"),
    ]
    assert layer.rules[0].source.path == f"talosaudit-live/{ACCOUNT}/{REGION}/{acl}.json"
    default = next(x for x in scope.collection.layers if x.kind is LayerKind.NETWORK_ACL and x.id != acl)
    # The default ACL's entry 32767 is the layer's default action, not a rule.
    assert [r.key.rsplit("/", 2)[1:] for r in default.rules] == [["ingress", "100"], ["egress", "100"]]
    assert set(default.segments) >= set(seed.private_subnets)


def test_redact_masks_key_ids_scopes_signatures_and_given_values() -> None:
    from talosaudit.collectors.aws_live.fetch import redact

    # aws-sdk-go#289: a key id with a trailing space, echoed by CloudFormation.
    text = (
        "'/20150620/us-east-1/cloudformation/aws4_request' not a valid key=value pair (missing "
        "equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential=AKIAXXXXXXXXXX /20150620/"
        "us-east-1/cloudformation/aws4_request, SignedHeaders=host;x-amz-date, Signature=240c93ba'."
    )
    assert redact(text) == (
        "'<redacted>/20150620/us-east-1/cloudformation/aws4_request' not a valid key=value pair (missing "
        "equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential=<redacted>/20150620/"
        "us-east-1/cloudformation/aws4_request, SignedHeaders=host;x-amz-date, Signature=<redacted>'."
    )
    assert redact("key ASIAABCDEFGHIJKLMNOP expired; token tok-12345678 bad", ["tok-12345678"]) == (
        "key <redacted> expired; token <redacted> bad"
    )
    # Ordinary messages are unchanged; short values are not masked.
    plain = "UnauthorizedOperation in DescribeVpcs: You are not authorized to perform this operation."
    assert redact(plain, ["You", ""]) == plain


def test_redact_masks_url_encoded_and_case_changed_credentials() -> None:
    from urllib.parse import quote, quote_plus

    from talosaudit.collectors.aws_live.fetch import redact

    key_id, secret, token = FAKE_KEY_ID, "wJalr/XUtnFEMI+K7MDENG/bPxRfiCY=EXAMPLEKEY", "IQoJb3/Jp+Zz==tok/en"
    secrets = [key_id, secret, token]
    forms = {
        "url-encoded": [quote(secret, safe=""), quote(token, safe=""), quote_plus(token)],
        "lower-case hex": [quote(secret, safe="").lower(), quote(token, safe="").lower()],
        "double-encoded": [quote(quote(secret, safe=""), safe="")],
        "case-changed": [key_id.lower(), secret.upper(), token.swapcase(), secret.lower()],
    }
    for name, values in forms.items():
        for value in values:
            text = f"GET /?X-Token={value}&a=b failed: {value}."
            out = redact(text, secrets)
            assert out == "GET /?X-Token=<redacted>&a=b failed: <redacted>.", (name, out)
    # A lower-cased key id with no credential list still matches the key id pattern, and
    # lower-cased query parameters of a presigned URL lose their values.
    assert redact(f"key {key_id.lower()} x-amz-signature=abc123&x-amz-credential=k") == (
        "key <redacted> x-amz-signature=<redacted>&x-amz-credential=<redacted>"
    )
