"""Reading a region's firewall state through the EC2 API.

Every list call goes through a paginator; retries use botocore's ``standard`` mode with more
attempts than its default (throttling is normal when many regions are read at once). The
credential chain is boto3's own; ``--profile`` picks a profile and ``--role-arn`` assumes a
role through STS. ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_EC2`` are honoured by botocore.

Credentials never leave this module: every error text built here goes through redact(),
because AWS's own messages can echo the Authorization header (key id, signature).

The boto3 objects are typed ``Any`` on purpose: operation names are passed as data to one
paging helper, which the typed stubs cannot express.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from talosaudit.collectors.aws_live.defaults import DEFAULT_MAX_ATTEMPTS

#: Filter values per request; AWS accepts up to 200 values in one filter.
_FILTER_CHUNK = 200
#: Parallel regions; each has its own client.
MAX_REGION_THREADS = 8
SESSION_NAME = "talosaudit"

#: The IAM actions this module calls (docs/live.md lists them as the least-privilege policy).
IAM_ACTIONS = (
    "ec2:DescribeInstances",
    "ec2:DescribeManagedPrefixLists",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeRegions",
    "ec2:DescribeSecurityGroupRules",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    "ec2:GetManagedPrefixListEntries",
    "sts:GetCallerIdentity",
)
#: Only with --role-arn (an action of the role's trust, not of the audited account).
ASSUME_ROLE_ACTION = "sts:AssumeRole"


#: AWS formats of the names that become folder and file names of the snapshot: a name from
#: the API (or a compromised endpoint) must never climb out of the snapshot folder.
ACCOUNT_ID = re.compile(r"[0-9]{12}")
REGION_NAME = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
GROUP_ID = re.compile(r"sg-[0-9a-f]{1,32}")
ACL_ID = re.compile(r"acl-[0-9a-f]{1,32}")


def valid_name(pattern: re.Pattern[str], value: object) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


class LiveError(Exception):
    """The live audit cannot start (no credentials, the role cannot be assumed): exit 2."""


@dataclass(frozen=True, slots=True)
class AwsOptions:
    regions: tuple[str, ...] = ()
    all_regions: bool = False
    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    vpc_ids: tuple[str, ...] = ()
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    #: PaginationConfig PageSize; None lets AWS choose (tests set it small).
    page_size: int | None = None
    #: Per attempt: ten attempts against a stalled endpoint must not take ten minutes (EC2
    #: Describe calls answer in well under a second; a page of 1,000 groups in a few).
    connect_timeout: float = 5.0
    read_timeout: float = 20.0


@dataclass(frozen=True, slots=True)
class PrefixList:
    id: str
    name: str
    owner: str
    #: ``(cidr, description)``; empty for AWS-managed lists, whose entries are not read.
    entries: tuple[tuple[str, str], ...] = ()

    @property
    def aws_managed(self) -> bool:
        return self.owner == "AWS"


@dataclass(frozen=True, slots=True)
class RegionData:
    """What one region returned, as the API's own dictionaries (snapshot.py writes them)."""

    account: str
    region: str
    security_groups: tuple[dict[str, Any], ...] = ()
    rules: tuple[dict[str, Any], ...] = ()
    instances: tuple[dict[str, Any], ...] = ()
    vpcs: tuple[dict[str, Any], ...] = ()
    subnets: tuple[dict[str, Any], ...] = ()
    network_acls: tuple[dict[str, Any], ...] = ()
    prefix_lists: tuple[PrefixList, ...] = ()


@dataclass(frozen=True, slots=True)
class RegionFailure:
    region: str
    #: One line for users: what failed and why, never a credential.
    message: str
    #: ``access-denied``, ``disabled``, ``timeout``, ``connection``, ``error``.
    kind: str


@dataclass
class Session:
    """A boto3 session, the account it reads and a per-call counter (retries are visible)."""

    boto: Any
    account: str
    caller_arn: str
    calls: dict[str, int] = field(default_factory=dict)
    #: Retried attempts per region (botocore's retries are otherwise silent).
    retries: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1

    def count_retry(self, region: str) -> int:
        """One more retried attempt in ``region``; the region's total so far."""
        with self._lock:
            self.retries[region] = self.retries.get(region, 0) + 1
            return self.retries[region]


#: ``(region, retry of the call in progress, retries allowed per call, retries in the region
#: so far)``: called from the region's worker thread each time botocore retries a call.
OnRetry = Callable[[str, int, int, int], None]


def client_config(options: AwsOptions) -> Config:
    return Config(
        # total_max_attempts counts the first attempt too (botocore's "max_attempts" counts
        # retries only): --max-attempts 1 means no retry.
        retries={"mode": "standard", "total_max_attempts": options.max_attempts},
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        user_agent_extra="talosaudit",
    )


class NotTheApiError(BotoCoreError):
    """A 2xx answer that is no AWS API answer: a captive portal, a proxy's login page."""

    fmt = (
        "the endpoint did not answer like the {service} API ({what}); "
        "is a proxy or captive portal in the way?"
    )


def _answer_like_the_api(response_dict: Mapping[str, Any], operation_model: Any, **_: Any) -> None:
    """``before-parse`` hook: EC2 and STS answer XML; botocore's parsers read an HTML page
    (or an empty body) as an answer without items, which would pass for "no security groups"."""
    if int(response_dict.get("status_code", 0)) >= 300:
        return  # errors are botocore's to parse and report
    body = response_dict.get("body", b"")
    if not isinstance(body, bytes | bytearray):
        return
    head = bytes(body[:512]).lstrip().lower()
    content_type = str(response_dict.get("headers", {}).get("content-type", "")).lower()
    what = None
    if "html" in content_type or head.startswith((b"<!doctype html", b"<html")):
        what = "HTML"
    elif not head:
        what = "an empty body"
    elif not head.startswith(b"<"):
        what = "not XML"
    if what is not None:
        service = str(operation_model.service_model.service_id).upper()
        raise NotTheApiError(service=service, what=what)


def _client(boto: Any, service: str, region: str, config: Config) -> Any:
    client = boto.client(service, region_name=region, config=config)
    client.meta.events.register("before-parse", _answer_like_the_api)
    return client


def open_session(options: AwsOptions, make_session: Callable[..., Any] = boto3.Session) -> Session:
    """The session for the audit and the account it reads (``sts:GetCallerIdentity``)."""
    base: Any = None
    try:
        base = make_session(profile_name=options.profile) if options.profile else make_session()
        config = client_config(options)
        if options.role_arn:
            sts = _client(base, "sts", _sts_region(base), config)
            params: dict[str, Any] = {"RoleArn": options.role_arn, "RoleSessionName": SESSION_NAME}
            if options.external_id:
                params["ExternalId"] = options.external_id
            creds = sts.assume_role(**params)["Credentials"]
            base = make_session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
            del creds
        sts = _client(base, "sts", _sts_region(base), config)
        identity = sts.get_caller_identity()
    except NoCredentialsError:
        raise LiveError(
            "no AWS credentials found (environment, --profile, shared credentials file, SSO or instance role)"
        ) from None
    except (ClientError, BotoCoreError) as exc:
        secrets = credential_values(base)
        raise LiveError(f"cannot read the AWS account: {error_text(exc, secrets)}") from None
    account = identity.get("Account", "")
    if not valid_name(ACCOUNT_ID, account):
        raise LiveError(f"the AWS account id {str(account)[:40]!r} is not 12 digits: refusing to use it")
    return Session(base, account, str(identity.get("Arn", "")))


def _sts_region(session: Any) -> str:
    return str(getattr(session, "region_name", None) or "us-east-1")


def enabled_regions(session: Session, options: AwsOptions) -> list[str]:
    """``describe_regions`` (enabled regions only) intersected with botocore's EC2 regions."""
    region = _sts_region(session.boto)
    client = _client(session.boto, "ec2", region, client_config(options))
    try:
        session.count("DescribeRegions")
        found = client.describe_regions(AllRegions=False)["Regions"]
    except (ClientError, BotoCoreError) as exc:
        secrets = credential_values(session.boto)
        raise LiveError(f"cannot list the enabled regions: {error_text(exc, secrets)}") from None
    known = set(session.boto.get_available_regions("ec2"))
    names = sorted(str(r["RegionName"]) for r in found if valid_name(REGION_NAME, r.get("RegionName")))
    return [n for n in names if not known or n in known]


# --- one region --------------------------------------------------------------------------


def paginate(
    session: Session, client: Any, operation: str, key: str, page_size: int | None, **params: Any
) -> list[dict[str, Any]]:
    """Every item under ``key`` of every page of ``operation`` (a snake_case name)."""
    paginator = client.get_paginator(operation)
    config = {"PageSize": page_size} if page_size else {}
    out: list[dict[str, Any]] = []
    for page in paginator.paginate(**params, PaginationConfig=config):
        out.extend(page.get(key, []))
    return out


def _chunks(values: Sequence[str]) -> Iterable[list[str]]:
    for i in range(0, len(values), _FILTER_CHUNK):
        yield list(values[i : i + _FILTER_CHUNK])


def fetch_region(
    session: Session, region: str, options: AwsOptions, on_retry: OnRetry | None = None
) -> RegionData:
    """Everything the model needs from one region; raises botocore errors."""
    client = _client(session.boto, "ec2", region, client_config(options))
    _watch_retries(client, session, region, options.max_attempts - 1, on_retry)
    size = options.page_size
    vpc_filter = [{"Name": "vpc-id", "Values": list(options.vpc_ids)}] if options.vpc_ids else []

    def read(operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
        session.count(operation)
        return paginate(session, client, operation, key, size, **params)

    groups = read("describe_security_groups", "SecurityGroups", Filters=vpc_filter)
    if options.vpc_ids:
        group_ids = sorted(str(g["GroupId"]) for g in groups)
        rules = [
            rule
            for chunk in _chunks(group_ids)
            for rule in read(
                "describe_security_group_rules",
                "SecurityGroupRules",
                Filters=[{"Name": "group-id", "Values": chunk}],
            )
        ]
    else:
        rules = read("describe_security_group_rules", "SecurityGroupRules")
    reservations = read("describe_instances", "Reservations", Filters=vpc_filter)
    instances = [
        instance
        for reservation in reservations
        for instance in reservation.get("Instances", [])
        if instance.get("State", {}).get("Name") not in ("terminated", "shutting-down")
    ]
    vpcs = read("describe_vpcs", "Vpcs", Filters=vpc_filter)
    subnets = read("describe_subnets", "Subnets", Filters=vpc_filter)
    acls = read("describe_network_acls", "NetworkAcls", Filters=vpc_filter)
    prefix_lists = _prefix_lists(read, rules)
    _check_names(groups, "GroupId", GROUP_ID)
    _check_names(acls, "NetworkAclId", ACL_ID)
    return RegionData(
        account=session.account,
        region=region,
        security_groups=tuple(groups),
        rules=tuple(rules),
        instances=tuple(instances),
        vpcs=tuple(vpcs),
        subnets=tuple(subnets),
        network_acls=tuple(acls),
        prefix_lists=tuple(prefix_lists),
    )


def _watch_retries(
    client: Any, session: Session, region: str, allowed: int, on_retry: OnRetry | None
) -> None:
    """Count botocore's retries of this client's calls: each attempt creates a request whose
    context holds its attempt number (1 for the first), so a later one is a retry."""

    def created(request: Any, **_: Any) -> None:
        attempt = int(getattr(request, "context", {}).get("retries", {}).get("attempt", 1))
        if attempt > 1:
            total = session.count_retry(region)
            if on_retry is not None:
                on_retry(region, attempt - 1, allowed, total)

    client.meta.events.register("request-created.ec2", created)


def _check_names(items: Iterable[Mapping[str, Any]], key: str, pattern: re.Pattern[str]) -> None:
    """Group and ACL ids name snapshot files: one that is not in AWS's format fails the region."""
    for item in items:
        if not valid_name(pattern, item.get(key)):
            raise ValueError(f"the API returned a {key} {str(item.get(key))[:40]!r} not in AWS's format")


def _prefix_lists(
    read: Callable[..., list[dict[str, Any]]], rules: Iterable[Mapping[str, Any]]
) -> list[PrefixList]:
    """The prefix lists rules name; customer lists with their entries."""
    wanted = sorted({str(r["PrefixListId"]) for r in rules if r.get("PrefixListId")})
    if not wanted:
        return []
    out: list[PrefixList] = []
    for chunk in _chunks(wanted):
        found = read(
            "describe_managed_prefix_lists",
            "PrefixLists",
            Filters=[{"Name": "prefix-list-id", "Values": chunk}],
        )
        for pl in found:
            ident, owner = str(pl["PrefixListId"]), str(pl.get("OwnerId", ""))
            entries: tuple[tuple[str, str], ...] = ()
            if owner != "AWS":
                raw = read("get_managed_prefix_list_entries", "Entries", PrefixListId=ident)
                entries = tuple(sorted((str(e["Cidr"]), str(e.get("Description", ""))) for e in raw))
            out.append(PrefixList(ident, str(pl.get("PrefixListName", ident)), owner, entries))
    return sorted(out, key=lambda p: p.id)


# --- many regions --------------------------------------------------------------------------


def fetch_regions(
    session: Session,
    regions: Sequence[str],
    options: AwsOptions,
    on_done: Callable[[str, bool], None] | None = None,
    on_retry: OnRetry | None = None,
) -> tuple[list[RegionData], list[RegionFailure]]:
    """Read the regions concurrently; a region that fails is reported, the others go on."""
    done: list[RegionData] = []
    failed: list[RegionFailure] = []
    workers = max(1, min(MAX_REGION_THREADS, len(regions)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="talosaudit-region") as pool:
        futures = {
            pool.submit(fetch_region, session, region, options, on_retry): region for region in regions
        }
        for future in as_completed(futures):
            region = futures[future]
            try:
                done.append(future.result())
            except Exception as exc:  # one region's failure must not stop the others
                failed.append(region_failure(region, exc, credential_values(session.boto)))
            if on_done is not None:
                on_done(region, region not in {f.region for f in failed})
    return sorted(done, key=lambda d: d.region), sorted(failed, key=lambda f: f.region)


_ACCESS_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthFailure", "Forbidden"}
)
_DISABLED_CODES = frozenset({"OptInRequired", "InvalidClientTokenId", "UnrecognizedClientException"})


def region_failure(region: str, exc: BaseException, secrets: Iterable[str] = ()) -> RegionFailure:
    """One line for users; AWS's own message is kept, with credentials redacted from it."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        kind = (
            "access-denied" if code in _ACCESS_CODES else "disabled" if code in _DISABLED_CODES else "error"
        )
        hint = {
            "access-denied": " (the credentials lack the permission; docs/live.md lists the IAM policy)",
            "disabled": " (is the region enabled for this account?)",
        }.get(kind, "")
        return RegionFailure(region, f"{region}: {error_text(exc, secrets)}{hint}", kind)
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return RegionFailure(region, f"{region}: timed out: {error_text(exc, secrets)}", "timeout")
    if isinstance(exc, EndpointConnectionError):
        return RegionFailure(region, f"{region}: cannot connect: {error_text(exc, secrets)}", "connection")
    return RegionFailure(region, f"{region}: {error_text(exc, secrets)}", "error")


def error_text(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """What went wrong, for stderr, the snapshot and findings: never a credential.

    AWS echoes the Authorization header in some errors (``IncompleteSignature``: "'AKIA…/
    20200128/us-east-1/sts/aws4_request' not a valid key=value pair … Signature=…"); a
    secret key pasted into the key id variable by mistake comes back the same way.
    """
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "error"))
        message = str(error.get("Message", "")).strip()
        operation = getattr(exc, "operation_name", "")
        where = f" in {operation}" if operation else ""
        text = f"{code}{where}: {message}" if message else f"{code}{where}"
    elif isinstance(exc, BotoCoreError):
        text = str(exc).strip() or type(exc).__name__
    else:
        text = f"{type(exc).__name__}: {exc}"
    return redact(text, secrets)


REDACTED = "<redacted>"
#: The credential scope of SigV4 (``<key id>/<date>/<region>/<service>/aws4_request``), after
#: ``Credential=`` or a quote; the key id may hold a stray space (a common paste error).
_SCOPE = re.compile(r"(Credential=|')[^,'=]*?(/\d{8}/[\w-]+/[\w-]+/aws4_request)", re.IGNORECASE)
_SIGNATURE = re.compile(
    r"\b(Signature|X-Amz-Signature|X-Amz-Security-Token|X-Amz-Credential)=[^\s,'\"&]+", re.IGNORECASE
)
#: Access key ids (long-term AKIA…, temporary ASIA…, and the other documented prefixes), in
#: any case: a message may echo a lower-cased header or URL.
_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b", re.IGNORECASE)
#: Shorter strings are not masked (they would mask ordinary words).
_MIN_SECRET = 8


def _secret_forms(value: str) -> set[str]:
    """The ways a credential comes back in a message: as it is, URL-encoded (a secret key or
    session token holds ``/``, ``+`` and ``=``; a presigned URL or a form body encodes them,
    sometimes twice). Case changes are matched by the pattern, not listed here."""
    once = {quote(value, safe=""), quote(value, safe="/"), quote_plus(value)}
    twice = {quote(form, safe="") for form in once}
    return {value} | once | twice


def _secrets_pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    values = {s.strip() for s in secrets if s and len(s.strip()) >= _MIN_SECRET}
    forms = {form for value in values for form in _secret_forms(value)}
    if not forms:
        return None
    # Longest first, so a value is not half-masked by a shorter one it contains.
    alternatives = "|".join(re.escape(form) for form in sorted(forms, key=lambda f: (-len(f), f)))
    return re.compile(alternatives, re.IGNORECASE)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the given credential values (also URL-encoded and in any case), key
    ids, signatures and tokens."""
    pattern = _secrets_pattern(secrets)
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    text = _SCOPE.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(2)}", text)
    text = _SIGNATURE.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    return _KEY_ID.sub(REDACTED, text)


def credential_values(boto_session: Any) -> tuple[str, ...]:
    """The session's access key id, secret key and token, to be redacted from messages."""
    try:
        credentials = boto_session.get_credentials() if boto_session is not None else None
        if credentials is None:
            return ()
        frozen = credentials.get_frozen_credentials()
        return tuple(str(v) for v in (frozen.access_key, frozen.secret_key, frozen.token) if v)
    except Exception:  # reading credentials again failed: the patterns still apply
        return ()
