"""Sub-commands of the `codemill` CLI, one module per job."""
