"""Findings for the home page, computed from results through the metric registry.

Per hardware (a GPU model or a CPU model; numbers from different machines are not compared):
the fastest decode, the least memory per decode token/s, the most tokens per joule, and the
Pareto front of peak memory against decode throughput. Measured successful cells of a machine
make its findings; where a machine has estimates only, its estimated cells make
findings of their own, labelled as estimates: their speed is the expected figure (the roofline
bound x an efficiency, report.fit), or the bound itself where no efficiency is known. Measured
and estimated cells are never ranked together.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bench.schema import METRICS, Metric, Result, device_kind
from report.fit import frame_of, hardware_of, measured_efficiencies, speed_of
from report.text import hardware_name, number, precision_text, setting_text

MEMORY = METRICS["peak_memory"]
SPEED = METRICS["decode_tokens_per_s"]
ENERGY = METRICS["joules_per_token"]


@dataclass(frozen=True)
class Finding:
    """One headline: which cell wins, by what measure, with the value in display units."""

    title: str
    measure: str  # how the value is computed, from registry titles
    unit: str
    result: Result
    value: float

    def line(self, short: bool = False) -> str:
        """The finding in a line: the model, its setting (`short`: precision and batch), the value."""
        r = self.result
        setting = (
            f"{precision_text(r)}, batch {r.setting.batch_size}" if short else setting_text(r, device=False)
        )
        return f"{r.model.name} ({setting}): {number(self.value)} {self.unit}"


@dataclass(frozen=True)
class HardwareFindings:
    """Everything the home page says about one machine."""

    hardware: str
    kind: str  # "cpu" or "gpu"
    cells: int  # measured ok cells that count
    findings: list[Finding]
    pareto: list[Result]  # sorted by memory, least first
    memory_title: str
    speed_title: str
    frame: str = ""  # the hardware and method (report.fit.frame_of): the charts' frame of these cells
    speed: Metric = SPEED  # the decode speed ranked: estimates rank their expected figure
    estimated: bool = False  # estimates, not measurements

    def headlines(self, limit: int = 2) -> list[tuple[str, str]]:
        """(lead, line) for the first `limit` findings: a slide's strip, under a title that names
        the hardware and says "(estimated)" where these are estimates."""
        return [(f"{f.title}: ", f.line(short=True)) for f in self.findings[:limit]]

    @property
    def cells_text(self) -> str:
        """'29 measured cells that succeeded' or '504 estimated cells (...)'."""
        if not self.estimated:
            return f"{self.cells} measured cell{'s' if self.cells != 1 else ''} that succeeded."
        return (
            f"{self.cells} estimated cell{'s' if self.cells != 1 else ''}: not measurements; speeds are "
            "the roofline bound x an efficiency (the fit matrix's expected figure)."
        )


def countable(results: Iterable[Result]) -> list[Result]:
    """Measured cells that succeeded, in a stable order."""
    kept = [r for r in results if r.status == "ok" and r.method == "measured"]
    return sorted(kept, key=lambda r: (r.model.name, r.suite, r.cell))


def expected_speed(results: Sequence[Result]) -> Metric:
    """The decode-speed metric for estimates: the expected figure report.fit gives each cell
    (bound x efficiency; the bound where no efficiency is known), by identity of the result."""
    measured = measured_efficiencies(results)
    expected = {
        id(r): speed_of(r, hardware_of(r), measured).tokens_per_s for r in results if r.method == "estimated"
    }
    return dataclasses.replace(SPEED, get=lambda r: expected.get(id(r)), label="Expected decode throughput")


def _values(results: Iterable[Result], *metrics: Metric) -> list[tuple[Result, tuple[float, ...]]]:
    """Results with every metric present and positive, with their display values."""
    out = []
    for result in results:
        values = tuple(m.display(result) for m in metrics)
        if all(v is not None and v > 0 for v in values):
            out.append((result, values))  # type: ignore[arg-type]
    return out


def _best(
    results: Sequence[Result], metrics: Sequence[Metric], score: Callable[[tuple[float, ...]], float]
) -> tuple[Result, float] | None:
    """The result with the highest score; the first in stable order wins ties."""
    scored = [(score(values), result) for result, values in _values(results, *metrics)]
    if not scored:
        return None
    best_score = max(s for s, _ in scored)
    winner = next(result for s, result in scored if s == best_score)
    return winner, best_score


def _oriented(metric: Metric, value: float) -> float:
    """Larger is better after this, whatever the metric's direction."""
    return -value if metric.better == "lower" else value


def pareto_front(results: Sequence[Result], x: Metric = MEMORY, y: Metric = SPEED) -> list[Result]:
    """Cells no other cell beats on both metrics (each in its registry direction), sorted by x."""
    points = _values(results, x, y)
    # Best x first; among equal x, best y first, so a later point survives only by a better y.
    points.sort(key=lambda p: (-_oriented(x, p[1][0]), -_oriented(y, p[1][1])))
    front: list[Result] = []
    best_y: float | None = None
    for result, (_, y_value) in points:
        if best_y is None or _oriented(y, y_value) > best_y:
            front.append(result)
            best_y = _oriented(y, y_value)
    return front


def _hardware_findings(hardware: str, results: list[Result], speed: Metric = SPEED) -> HardwareFindings:
    kind = device_kind(results[0])
    memory_title = MEMORY.title(kind)
    findings = []
    fastest = _best(results, [speed], lambda v: v[0])
    if fastest:
        findings.append(Finding("Fastest decode", speed.title(kind), speed.unit, *fastest))
    leanest = _best(results, [MEMORY, speed], lambda v: -v[0] / v[1])
    if leanest:
        measure = f"{MEMORY.title(kind)} ÷ {speed.title(kind)}"
        unit = f"{MEMORY.unit} per {speed.unit}"
        findings.append(Finding("Least memory per token/s", measure, unit, leanest[0], -leanest[1]))
    frugal = _best(results, [ENERGY], lambda v: 1 / v[0])
    if frugal:
        findings.append(Finding("Most tokens per joule", f"1 ÷ {ENERGY.title(kind)}", "tokens/J", *frugal))
    return HardwareFindings(
        hardware=hardware,
        kind=kind,
        cells=len(results),
        findings=findings,
        pareto=pareto_front(results, MEMORY, speed),
        memory_title=memory_title,
        speed_title=speed.title(kind),
        frame=frame_of(results[0]),
        speed=speed,
        estimated=speed is not SPEED,
    )


def findings(results: Iterable[Result]) -> list[HardwareFindings]:
    """Findings per hardware: machines with measured cells first (the most cells first), then
    each hardware's estimates (hardware_name says '(estimated)'), the most cells first."""
    results = list(results)
    by_hardware: dict[str, list[Result]] = defaultdict(list)
    for result in countable(results):
        by_hardware[hardware_name(result)].append(result)
    groups = [_hardware_findings(name, cells) for name, cells in by_hardware.items()]
    estimates = [r for r in results if r.status == "ok" and r.method == "estimated"]
    if estimates:
        speed = expected_speed(results)
        by_target: dict[str, list[Result]] = defaultdict(list)
        for result in sorted(estimates, key=lambda r: (r.model.name, r.suite, r.cell)):
            by_target[hardware_name(result)].append(result)
        groups += [_hardware_findings(name, cells, speed) for name, cells in by_target.items()]
    return sorted(groups, key=lambda g: (g.estimated, -g.cells, g.hardware))
