"""What users ask for by name, built on delivery: alerts and progress messages, asking and
reading answers, the watchdog, and the run context (which notebook, host and cell)."""
