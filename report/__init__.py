"""gpuscape report: turns result JSON into charts, a site and slides (never imports torch)."""
