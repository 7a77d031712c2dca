"""The settings of one run: the command line over ``.talosaudit.yaml`` over the defaults,
merged here and nowhere else, and validated once (a bad ``--admin-cidr`` fails like a bad
``admin_networks:`` entry, before any input is read).

Facts are the one exception to "merged here": the CLI's and the config file's ``cni``/``tunnel``
are handed to ``model.merge`` as facts with their origin, because what the inputs say (a Talos
config's CNI) ranks between the config file and the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from talosaudit.admin_networks import AdminNetworkError, allowlist_prefixes, check_declared
from talosaudit.config import Config, ConfigError, check_cidr
from talosaudit.levels import Level
from talosaudit.model import AddressSet, Fact, FactOrigin, SourceRef

DEFAULT_CNI = Fact("cni", "flannel", "Talos-managed Flannel, the default CNI", FactOrigin.DEFAULT)
DEFAULT_TUNNEL = Fact(
    "tunnel", "vxlan", "VXLAN, the default tunnel of Flannel and Cilium", FactOrigin.DEFAULT
)
DEFAULT_FAIL_ON = "error"


@dataclass(frozen=True)
class CommandLine:
    """What the command line said (None: not given)."""

    cni: str | None = None
    tunnel: str | None = None
    admin_cidrs: tuple[str, ...] = ()
    min_level: Level | None = None
    fail_on: str | None = None
    #: ``--soft-fail`` (checkov's name): the same as ``--fail-on never``, and it wins over it.
    soft_fail: bool = False
    #: ``--skip-path GLOB`` (repeatable): input files not read.
    skip_paths: tuple[str, ...] = ()
    #: ``--compact``: findings without their related locations.
    compact: bool = False
    #: ``--quiet``: only failing findings in every output, no notices or progress.
    quiet: bool = False


@dataclass(frozen=True)
class Settings:
    """The resolved settings: what the pipeline, the reports and the exit code use."""

    #: cni/tunnel/features facts at their origin (command line, config file, default).
    facts: tuple[Fact, ...]
    #: Admin networks from ``--admin-cidr`` (no source) and ``admin_networks:``.
    admin_networks: tuple[tuple[AddressSet, SourceRef | None], ...]
    #: The operator named admin networks or interfaces (collectors then trust no guess).
    admin_named: bool
    min_level: Level | None
    fail_on: str
    #: Globs (relative to the root) of input files not read: ``--skip-path`` and ``skip_paths:``.
    skip_paths: tuple[str, ...] = ()
    compact: bool = False
    quiet: bool = False


def resolve(cli: CommandLine, config: Config, config_name: str, config_path: Path | None) -> Settings:
    """Merge the command line, the config file and the defaults; raise ConfigError on a value
    that is not valid wherever it was written."""
    # Declared admin networks add to those the inputs declare (admin_networks.py); one wider
    # than the allowlist threshold (TA207's, as configured) is the internet: a usage error.
    setting = config.rules.get("TA207")
    prefixes = allowlist_prefixes(setting.params if setting else None)
    admin: list[tuple[AddressSet, SourceRef | None]] = []
    for cidr in cli.admin_cidrs:
        try:
            admin.append((check_declared(check_cidr(cidr), "--admin-cidr", prefixes), None))
        except AdminNetworkError as exc:
            raise ConfigError(str(exc)) from exc
        except ValueError as exc:
            raise ConfigError(f"--admin-cidr {cidr!r}: {exc}") from exc
    config_ref = SourceRef(config_name, 1, 1, "admin_networks") if config_path else None
    for cidr in config.admin_networks:
        try:
            admin.append((check_declared(cidr, f"admin_networks in {config_name}:", prefixes), config_ref))
        except AdminNetworkError as exc:
            raise ConfigError(str(exc)) from exc
    return Settings(
        facts=tuple(_facts(cli, config, config_name)),
        admin_networks=tuple(admin),
        admin_named=bool(cli.admin_cidrs or config.admin_networks or config.admin_interfaces),
        min_level=cli.min_level or config.min_level,
        fail_on="never" if cli.soft_fail else cli.fail_on or config.fail_on or DEFAULT_FAIL_ON,
        skip_paths=(*cli.skip_paths, *config.skip_paths),
        compact=cli.compact,
        quiet=cli.quiet,
    )


def _facts(cli: CommandLine, cfg: Config, name: str) -> list[Fact]:
    """Command line, then config file, then defaults; merge() keeps the lowest origin."""
    facts: list[Fact] = [DEFAULT_CNI, DEFAULT_TUNNEL]
    if cli.cni:
        facts.append(Fact("cni", cli.cni, f"--cni {cli.cni} on the command line", FactOrigin.COMMAND_LINE))
    if cli.tunnel:
        facts.append(
            Fact("tunnel", cli.tunnel, f"--tunnel {cli.tunnel} on the command line", FactOrigin.COMMAND_LINE)
        )
    if cfg.cni:
        facts.append(Fact("cni", cfg.cni, f"cni: {cfg.cni} in {name}", FactOrigin.CONFIG_FILE))
    if cfg.tunnel:
        facts.append(Fact("tunnel", cfg.tunnel, f"tunnel: {cfg.tunnel} in {name}", FactOrigin.CONFIG_FILE))
    for feature, value in cfg.features.model_dump().items():
        if value is not None:
            text = "true" if value else "false"
            facts.append(Fact(feature, text, f"features.{feature}: {text} in {name}", FactOrigin.CONFIG_FILE))
    return facts


__all__ = ["CommandLine", "Settings", "resolve"]
