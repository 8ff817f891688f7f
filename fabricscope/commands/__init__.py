"""CLI command groups; each module has `register(subparsers)` and owns its handlers."""
