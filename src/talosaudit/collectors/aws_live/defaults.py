"""Defaults of the live collector, in a module of their own so that the CLI can show them in
``--help`` without importing boto3 (which costs ~0.1 s and ~24 MB at every start)."""

#: Attempts per AWS call in botocore's standard retry mode (throttling is normal at scale).
DEFAULT_MAX_ATTEMPTS = 10

#: Where ``live`` writes the snapshot files its findings point at, relative to the root.
DEFAULT_DIR = "talosaudit-live"
