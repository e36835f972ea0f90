"""report never imports torch or transformers: in a process where both are unimportable, every
report module imports and a build renders HTML and a PNG."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from report.export import find_browser
from tests.report.chart_fixtures import small_set, write_results

ROOT = Path(__file__).resolve().parents[2]

# Runs first in the child: any import of torch or transformers (or a submodule) fails, as on a
# machine with only the report extra installed.
BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys

    class Blocked(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "transformers"):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
            return None

    sys.meta_path.insert(0, Blocked())
    """
)

CHILD = textwrap.dedent(
    """
    import importlib, pkgutil, sys
    from pathlib import Path

    import report
    for module in pkgutil.iter_modules(report.__path__):
        if module.name != "__main__":
            importlib.import_module(f"report.{module.name}")

    from report.build import build
    out = Path(sys.argv[1])
    done = build([sys.argv[2]], out, formats=sys.argv[3].split(","), view_names=["landscape"])
    assert done.images_skipped is None, done.images_skipped
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers"))
    assert not loaded, loaded
    print("wrote", len(done.written))
    """
)


def test_report_imports_and_renders_without_torch(tmp_path: Path) -> None:
    results = write_results(small_set(n_cells=12, n_models=2), tmp_path / "results")
    formats = "html,png" if find_browser() else "html"
    done = subprocess.run(
        [sys.executable, "-c", BLOCKER + CHILD, str(tmp_path / "out"), str(results), formats],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "out" / "charts" / "landscape.html").exists()
    if "png" in formats:
        assert (tmp_path / "out" / "charts" / "landscape.png").stat().st_size > 50_000


def test_the_blocker_really_blocks() -> None:
    done = subprocess.run(
        [sys.executable, "-c", BLOCKER + "import transformers"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode != 0 and "blocked by the test" in done.stderr
