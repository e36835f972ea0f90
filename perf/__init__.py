"""Developer tools, not shipped in the wheel: benchmarks (`make perf`) and the synthetic result
generator the tests and benchmarks share."""
