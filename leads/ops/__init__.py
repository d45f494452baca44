"""Operator tooling beside the pipeline: the offline demo, LinkedIn's sign-off checklist and the
lead-to-sales funnel report. Plain functions over the product's state; the `leadsync` CLI (leads/cli)
parses arguments, prints their results and turns their errors into exit codes."""
