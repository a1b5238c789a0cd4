"""Adapters that let trainers drive catalog environments, each in its own module with its own optional extra.

- `harness.adapters.trl`: TRL's `GRPOTrainer` environments (`environment_factory`)
  and `mcpfactory train --trainer trl` (extra `trl`).
- `harness.adapters.openenv`: any catalog environment served as an OpenEnv
  environment (extra `openenv`).
- `harness.adapters.verifiers`: a verifiers taskset plugin and `load_environment`
  (extra `verifiers`).
- `harness.adapters.skyrl`: a SkyRL-gym text environment (extra `skyrl`).

All of them run episodes through `harness.gym` (the step-wise `TaskEnv`), so
validation, deadlines, terminations and the judge are the runner's.
"""
