"""Harnesses shared by the tests (small sizes) and ``benchmarks/run_all.py`` (full sizes):
SIGKILL crashes, interrupt fuzzing, fault soaks, token races and the secrets audit. Each
module runs real processes, kernels and sandboxes; none of them fakes the thing it tests."""
