"""gpuscape bench: runs a suite of LLM cells, one process each, and writes result JSON."""

__version__ = "0.1.0"
