"""Which configuration to try next: the search space, Optuna samplers and pruners, and the study."""
