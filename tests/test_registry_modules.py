"""Which module sources are read as well-known registry modules, and with which version."""

from talosaudit.collectors.terraform.registry_modules import RegistrySource, recognise


def test_registry_sources_and_versions() -> None:
    assert recognise("terraform-aws-modules/security-group/aws", "~> 5.1") == RegistrySource(
        "security-group", "", 5
    )
    assert recognise("terraform-aws-modules/security-group/aws//modules/ssh", "4.17.2") == RegistrySource(
        "security-group", "ssh", 4
    )
    assert recognise("registry.terraform.io/terraform-aws-modules/ec2-instance/aws", None) == RegistrySource(
        "ec2-instance", "", None
    )


def test_git_sources_take_the_version_from_ref() -> None:
    assert recognise(
        "git::https://github.com/terraform-aws-modules/terraform-aws-security-group.git//modules/https-443?ref=v5.3.0",
        None,
    ) == RegistrySource("security-group", "https-443", 5)
    assert recognise("github.com/terraform-aws-modules/terraform-aws-alb?ref=v9.9.0", None) == RegistrySource(
        "alb", "", 9
    )


def test_other_sources_are_not_modelled() -> None:
    assert recognise("terraform-aws-modules/vpc/aws", "~> 5.0") is None
    assert recognise("terraform-aws-modules/security-group/aws//modules/unknown-preset", None) is None
    assert recognise("cloudposse/security-group/aws", None) is None
