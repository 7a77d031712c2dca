"""Shared pytest setup: the moto server fixtures of tests/live_support.py are a plugin, loaded
here once so that pytest rewrites its asserts before any test module imports it."""

pytest_plugins = ("live_support",)
