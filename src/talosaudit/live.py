"""The ``live`` pipeline: read AWS, snapshot it, model it per VPC, evaluate, post-process.

1. The catalogue and selection are checked first (scan.prepare_run), then the account is
   read (``sts:GetCallerIdentity``) and the regions are read concurrently (fetch.py).
2. Every region is written to the snapshot directory (snapshot.py) so every finding has a
   file and a line; a region that could not be read gets an index file saying why and a
   TA001 finding there, and the other regions go on.
3. With ``--terraform PATH`` the Terraform is collected as ``scan`` does, live groups and
   rules are located at the Terraform lines that declare them, and drift is reported
   (policies of kind ``drift``, from the pairs drift.py describes). Its facts (CNI, NodePort
   intent) and admin networks apply.
4. Each VPC that holds nodes is one model, evaluated on its own (address plans of two VPCs
   may overlap, two clusters are not one). Findings get the account, region, security
   group and rule ids in their message and properties.
5. scan.finish_run does the rest (selection, suppressions, ignores, baseline, --min-level).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3

from talosaudit.collectors.aws_live.convert import Scope, convert_region
from talosaudit.collectors.aws_live.defaults import DEFAULT_DIR
from talosaudit.collectors.aws_live.drift import locate_all
from talosaudit.collectors.aws_live.fetch import (
    REGION_NAME,
    AwsOptions,
    LiveError,
    OnRetry,
    RegionData,
    RegionFailure,
    enabled_regions,
    fetch_regions,
    open_session,
    valid_name,
)
from talosaudit.collectors.aws_live.snapshot import (
    Snapshot,
    region_dir,
    render_failure,
    render_region,
    write,
)
from talosaudit.findings import Finding
from talosaudit.model import Collection, Drift, LayerKind, Model, Problem, ProblemKind, SourceRef, merge
from talosaudit.policies.node_ports import node_ports
from talosaudit.scan import (
    ScanError,
    ScanRequest,
    ScanResult,
    admin_collection,
    build_model,
    evaluate_model,
    extra_facts,
    finish_run,
    prepare_run,
    role_hints,
)

#: What a finding is about, live: account, region, VPC, security group, rule.
_Ids = tuple[str, str, str, str, str]


@dataclass(frozen=True)
class LiveRequest:
    #: Output, selection and fact options as for ``scan``; ``paths`` is ignored.
    scan: ScanRequest
    aws: AwsOptions
    terraform: Path | None = None
    #: The snapshot directory, relative to ``scan.root``.
    snapshot_dir: str = DEFAULT_DIR
    #: boto3.Session or a stand-in (tests register botocore event hooks on it).
    session_factory: Callable[..., Any] = field(default=boto3.Session)


@dataclass(frozen=True)
class LiveResult:
    result: ScanResult
    account: str
    regions: tuple[str, ...]
    failures: tuple[RegionFailure, ...]
    snapshot_files: tuple[str, ...]
    #: VPCs evaluated, as ``account/region/vpc``.
    evaluated: tuple[str, ...]

    @property
    def nothing_read(self) -> bool:
        return not self.regions


def run_live(
    request: LiveRequest,
    on_region: Callable[[str, bool], None] | None = None,
    on_retry: OnRetry | None = None,
) -> LiveResult:
    started = time.monotonic()
    prepared = prepare_run(request.scan)
    # Region names become snapshot folder names: only AWS's format, checked before any call.
    bad = [r for r in request.aws.regions if not valid_name(REGION_NAME, r)]
    if bad:
        raise ScanError(f"not an AWS region name: {', '.join(repr(r[:40]) for r in bad)}")
    try:
        session = open_session(request.aws, request.session_factory)
        regions = list(dict.fromkeys(request.aws.regions))
        if request.aws.all_regions:
            regions = sorted({*regions, *enabled_regions(session, request.aws)})
    except LiveError as exc:
        raise ScanError(str(exc)) from None
    if not regions:
        raise ScanError("no region to read: give --region REGION (repeatable) or --all-regions")
    read, failures = fetch_regions(session, regions, request.aws, on_region, on_retry)

    snapshot = Snapshot()
    scopes: list[Scope] = []
    hints = role_hints(request.scan.config, request.scan.config_name)
    served = node_ports(prepared.catalogue)
    index: dict[str, _Ids] = {}
    for data in read:
        snap = render_region(data, request.snapshot_dir)
        _merge_snapshot(snapshot, snap)
        scopes += convert_region(data, snap, hints, served)
        index.update(_ids(data))
    loose: list[Problem] = []
    drift: list[Drift] = []
    unread: set[str] = set()
    for failure in failures:
        unread.add(region_dir(request.snapshot_dir, session.account, failure.region))
        snap = render_failure(session.account, failure.region, failure.message, request.snapshot_dir)
        _merge_snapshot(snapshot, snap)
        loose.append(
            Problem(
                ProblemKind.UNREADABLE,
                f"AWS region {failure.message}; its security groups were not audited",
                snap.refs["error"],
                key=f"live:{session.account}:{failure.region}",
            )
        )
    write(snapshot, request.scan.root, keep=unread)

    notices: list[str] = []
    extra: list[Collection] = [admin_collection(request.scan)]
    files: set[str] = set(snapshot.files)
    collections = [s.collection for s in scopes]
    if request.terraform is not None:
        tf_model, tf_files = build_model(replace(request.scan, paths=(request.terraform,)))
        files.update(tf_files)
        terraform = Collection(layers=tuple(tf_model.layers.values()))
        collections, found_drift = locate_all(collections, terraform)
        drift += found_drift
        admin = ((tf_model.admin, tf_model.admin_sources[0] if tf_model.admin_sources else None),)
        extra.append(Collection(facts=tuple(tf_model.facts.values()), admin=admin if tf_model.admin else ()))

    raw: list[Finding] = []
    evaluated: list[str] = []
    models = []
    #: One notice for all of them: every region has a default VPC (--all-regions: 30+).
    skipped: list[str] = []
    for scope, found in zip(scopes, collections, strict=True):
        if not found.node_groups and scope.vpc not in request.aws.vpc_ids:
            skipped.append(scope.name)
            continue
        collection = _without_idle_groups(found)
        model = merge([collection, *extra], extra_facts(request.scan))
        models.append(collection)
        evaluated.append(scope.name)
        located = _located_ids(scope, collection)
        for f in evaluate_model(model, prepared, request.scan):
            raw.append(_annotate(f, index, located, scope))
    # Region failures and drift belong to no VPC: their policies run on a model of them alone.
    outside = Model(problems=tuple(loose), drift=tuple(drift))
    raw += [_annotate(f, index, {}, None) for f in evaluate_model(outside, prepared, request.scan)]
    if skipped:
        notices.append(
            f"not evaluated, no Talos nodes (no instance or security group with a role): "
            f"{', '.join(skipped)} (name a VPC with --vpc-id to audit it anyway)"
        )
    if not evaluated and read:
        notices.append("no VPC with Talos nodes was found in the regions read")
    merged = merge([*models, *extra], extra_facts(request.scan))
    result = finish_run(
        request.scan, prepared, raw, merged, tuple(sorted(files)), started=started, notices=notices
    )
    return LiveResult(
        result=result,
        account=session.account,
        regions=tuple(d.region for d in read),
        failures=tuple(failures),
        snapshot_files=tuple(sorted(snapshot.files)),
        evaluated=tuple(evaluated),
    )


def _without_idle_groups(collection: Collection) -> Collection:
    """Security groups no interface carries and without a role filter nothing today (the VPC's
    default group, leftovers): they are in the snapshot and in drift, not evaluated."""
    kept = tuple(
        layer
        for layer in collection.layers
        if layer.kind is not LayerKind.SECURITY_GROUP
        or layer.attribute("attached") != "false"
        or layer.attribute("role")
    )
    return replace(collection, layers=kept)


def _merge_snapshot(into: Snapshot, snap: Snapshot) -> None:
    into.files.update(snap.files)
    into.refs.update({f"{k}@{v.path}": v for k, v in snap.refs.items()})


def _ids(data: RegionData) -> dict[str, _Ids]:
    """Every security group and rule id of a region, with what it belongs to."""
    out: dict[str, _Ids] = {}
    vpc_of = {str(g["GroupId"]): str(g.get("VpcId", "")) for g in data.security_groups}
    for gid, vpc in vpc_of.items():
        out[gid] = (data.account, data.region, vpc, gid, "")
    for r in data.rules:
        gid = str(r.get("GroupId", ""))
        out[str(r.get("SecurityGroupRuleId"))] = (
            data.account,
            data.region,
            vpc_of.get(gid, ""),
            gid,
            str(r.get("SecurityGroupRuleId")),
        )
    return out


def _located_ids(scope: Scope, collection: Collection) -> dict[SourceRef, _Ids]:
    """Where each layer and rule of a scope is located now (possibly a Terraform line)."""
    out: dict[SourceRef, _Ids] = {}
    for layer in collection.layers:
        out.setdefault(layer.source, (scope.account, scope.region, scope.vpc, layer.id, ""))
        for rule in layer.rules:
            ids = (scope.account, scope.region, scope.vpc, layer.id, rule.key)
            previous = out.get(rule.source)
            if previous is not None and previous[3] == layer.id and previous[4] and previous[4] != rule.key:
                ids = (*previous[:4], f"{previous[4]},{rule.key}")
            out[rule.source] = ids
    return out


def _annotate(
    f: Finding, index: Mapping[str, _Ids], located: Mapping[SourceRef, _Ids], scope: Scope | None
) -> Finding:
    ids: _Ids | None = None
    for ref in (f.location, *f.related):
        ids = located.get(ref) or index.get(ref.resource)
        if ids is not None:
            break
    if ids is None and scope is not None:
        ids = (scope.account, scope.region, scope.vpc, "", "")
    if ids is None:
        return f
    account, region, vpc, sg, sgr = ids
    props = [("account", account), ("region", region)]
    props += [(k, v) for k, v in (("vpc", vpc), ("security_group", sg), ("security_group_rule", sgr)) if v]
    shown = ", ".join([f"account {account}", region, *(v for v in (vpc, sg, sgr) if v)])
    return replace(f, message=f"{f.message} [{shown}]", properties=(*f.properties, *props))


def read_summary(result: LiveResult) -> Iterable[str]:
    """Lines for stderr: what was read and what failed."""
    if result.regions:
        yield f"read account {result.account}: {', '.join(result.regions)}"
    for failure in result.failures:
        yield f"warning: region {failure.message}"
