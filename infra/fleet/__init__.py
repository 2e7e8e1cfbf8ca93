"""Fleet rollout: plan the regions in dependency order, run the plan, resume it.

`plan` (the DAG and its waves), `changes` (what `--changed-since` affects), `journal`
(the append-only record a rollout resumes from), `scheduler` (runs a plan through an
engine), `engine` (the Pulumi Automation API, one process per stack), `simulate` (the
real scheduler against a fake engine, killed and restarted) and `commands` (the CLI).
"""
