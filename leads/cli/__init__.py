"""The `leadsync` operator CLI, one module per group of subcommands. Each module's
`register(subparsers)` adds its subcommands, every one with `--json` and a `handler(command,
options)`; the management command builds its parser from `MODULES` and dispatches (leads/cli/base)."""

from leads.cli import answers, audit, connections, integrations, mappings, ops, people, review, sync

MODULES = (connections, integrations, mappings, sync, review, answers, people, ops, audit)
