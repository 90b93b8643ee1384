"""Effect verification: what the OP25B rules did (counters over time, top offenders from the logs)."""
