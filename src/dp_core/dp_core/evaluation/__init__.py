"""Policy evaluation in simulated benchmarks (``dp-eval``)."""
