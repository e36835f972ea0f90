"""What we say about a result set, computed once: per-model summaries, findings, failures,
groupings per hardware and per suite, the fit matrix (report.fit), and the orders everything is
listed in.

`summarize(results)` is the one place these are worked out; the site, the deck and the chart
pages render its Summary and never recompute it. Plain data and plain text only: no HTML,
Markdown or pptx (report.text words it, the outputs escape it for their medium).

A result's hardware is `report.text.hardware_name`: its GPU name, the device an estimate was made
for, or its CPU model. Groups per hardware are where per-machine answers (findings) hang; the fit
matrix has its own hardware ids (catalog ids where bench/hardware.yaml knows the device).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.schema import METRICS, Metric, Result, device_kind, slugify
from report.explain import Explanation, explain
from report.findings import HardwareFindings, findings
from report.fit import FitCell, FitMatrix, fit_matrix
from report.text import failure_reason, hardware_name, number, plural, status_counts

RAW_DIR = "raw"
DEFAULT_TITLE = "gpuscape results"  # the deck's and the slide view's title
RESERVED_SLUGS = frozenset({"index", "readme"})  # MkDocs would treat these as section indexes
MAX_TABLE_ROWS = 300  # per hardware table of a model; the rest stay in the raw JSON
MAX_CONFIG_VALUE_CHARS = 160
MAX_CONFIG_ROWS = 400  # a model page's config table; a config is a few dozen keys, a hostile one millions
# Columns of a model's measurement table, in order; a column shows only where some cell has it.
TABLE_METRICS = ("decode_tokens_per_s", "prefill_latency", "e2e_latency", "peak_memory", "joules_per_token")
# Config keys every transformers model carries whatever its architecture (PretrainedConfig's own,
# in 5.x and 4.x, and the generation defaults 4.x kept there): shown folded under the model's own.
GENERIC_CONFIG_KEYS = frozenset(
    """_name_or_path architectures chunk_size_feed_forward dtype torch_dtype id2label label2id
    is_encoder_decoder output_attentions output_hidden_states problem_type return_dict
    transformers_version use_cache pad_token_id bos_token_id eos_token_id sep_token_id
    decoder_start_token_id torchscript tie_encoder_decoder is_decoder add_cross_attention
    cross_attention_hidden_size pruned_heads finetuning_task tokenizer_class prefix
    task_specific_params tf_legacy_loss use_bfloat16 return_dict_in_generate output_scores
    max_length min_length do_sample early_stopping num_beams num_beam_groups diversity_penalty
    temperature top_k top_p typical_p repetition_penalty length_penalty no_repeat_ngram_size
    encoder_no_repeat_ngram_size bad_words_ids num_return_sequences forced_bos_token_id
    forced_eos_token_id remove_invalid_values exponential_decay_length_penalty suppress_tokens
    begin_suppress_tokens""".split()
)


# --------------------------------------------------------------------------- orders


def file_order(result: Result) -> tuple[str, str, str]:
    """The order results are listed in when nothing else decides: suite, cell id, start time
    (stable whatever order the files were read in)."""
    return (result.suite, result.cell, result.started_at)


def setting_order(result: Result) -> tuple[Any, ...]:
    """Cells of one model in reading order: dtype, quantization, batch, prompt, new tokens."""
    s = result.setting
    return (
        s.dtype,
        s.quantization or "",
        s.batch_size,
        s.prompt_tokens,
        s.new_tokens,
        result.suite,
        result.cell,
    )


# --------------------------------------------------------------------------- names and paths


def unique_slugs(names: Iterable[str], reserved: Iterable[str] = RESERVED_SLUGS) -> dict[str, str]:
    """A path-safe slug per distinct name, unique even when names collide after slugify
    ('Llama 3' and 'llama-3' -> 'llama-3' and 'llama-3-2'); stable for the same names."""
    taken = set(reserved)
    slugs: dict[str, str] = {}
    for name in sorted(set(names)):
        base = slugify(name)
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        taken.add(slug)
        slugs[name] = slug
    return slugs


def raw_paths(results: Sequence[Result]) -> dict[int, str]:
    """Where each result's JSON is published, by id(result): raw/<suite>/<cell>.json."""
    suite_slugs = unique_slugs((r.suite for r in results), reserved=())
    paths: dict[int, str] = {}
    used: set[str] = set()
    for result in sorted(results, key=file_order):
        stem = f"{RAW_DIR}/{suite_slugs[result.suite]}/{result.cell}"
        path, n = f"{stem}.json", 2
        while path in used:  # the same cell twice (two copies of a results folder)
            path, n = f"{stem}-{n}.json", n + 1
        used.add(path)
        paths[id(result)] = path
    return paths


# --------------------------------------------------------------------------- per model


@dataclass(frozen=True)
class Column:
    title: str
    metric: Metric


@dataclass(frozen=True)
class CellRow:
    result: Result
    raw: str  # path relative to the published root
    values: list[str]
    reason: str | None  # failed cells: why


@dataclass(frozen=True)
class CellTable:
    """A model's cells on one machine (memory means different things on GPU and CPU)."""

    hardware: str
    kind: str
    columns: list[Column]
    rows: list[CellRow]
    hidden: int  # rows left out to keep a page light


@dataclass
class ModelSummary:
    """Everything said about one model: how it works, its config, its cells per machine."""

    slug: str
    name: str
    family: str
    source: str
    results: list[Result]
    explanation: Explanation
    config_rows: list[tuple[str, str]]  # the architecture's own keys
    tables: list[CellTable] = field(default_factory=list)
    generic_config_rows: list[tuple[str, str]] = field(default_factory=list)  # every model's keys
    fits: list[FitCell] = field(default_factory=list)  # its row of the fit matrix, one per hardware

    @property
    def ok(self) -> list[Result]:
        return [r for r in self.results if r.status == "ok"]

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if r.status != "ok"]

    @property
    def fastest(self) -> Result | None:
        """The measured cell with the highest decode throughput."""
        speed = METRICS["decode_tokens_per_s"]
        scored = [r for r in self.ok if r.method == "measured" and speed.value(r) is not None]
        return max(scored, key=lambda r: speed.value(r) or 0.0, default=None)


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Config rows: nested dicts as dotted keys, other values as compact JSON, long ones cut."""
    rows: list[tuple[str, str]] = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows.extend(flatten_config(value, prefix=f"{name}."))
            continue
        text = json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))
        if len(text) > MAX_CONFIG_VALUE_CHARS:
            text = text[: MAX_CONFIG_VALUE_CHARS - 1] + "…"
        rows.append((name, text))
    return rows


def capped(rows: list[tuple[str, str]], limit: int) -> list[tuple[str, str]]:
    """At most `limit` rows, the last saying how many more the raw JSON holds."""
    if len(rows) <= limit:
        return rows
    return [*rows[: limit - 1], ("…", f"{len(rows) - limit + 1:,} more keys: see the raw JSON")]


def split_config(rows: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(the architecture's own rows, the rows every transformers config carries), order kept."""
    own, generic = [], []
    for key, value in rows:
        (generic if key.split(".", 1)[0] in GENERIC_CONFIG_KEYS else own).append((key, value))
    return own, generic


def group_by_hardware(results: Iterable[Result]) -> dict[str, list[Result]]:
    """Results by hardware name, machines with the most cells first, input order kept inside."""
    groups: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        groups[hardware_name(result)].append(result)
    return {h: groups[h] for h in sorted(groups, key=lambda h: (-len(groups[h]), h))}


def cell_tables(results: Sequence[Result], raw: Mapping[int, str]) -> list[CellTable]:
    """One table per machine; failed cells first (they are few and say the most), then the rest."""
    tables = []
    for hardware, group in group_by_hardware(results).items():
        cells = sorted(group, key=lambda r: (r.status == "ok", setting_order(r)))
        kind = device_kind(cells[0])
        metrics = [METRICS[m] for m in TABLE_METRICS if any(METRICS[m].value(r) is not None for r in cells)]
        columns = [Column(m.title(kind), m) for m in metrics]
        shown = cells[:MAX_TABLE_ROWS]
        rows = [
            CellRow(r, raw[id(r)], [number(c.metric.display(r)) for c in columns], failure_reason(r))
            for r in shown
        ]
        tables.append(CellTable(hardware, kind, columns, rows, hidden=len(cells) - len(shown)))
    return tables


def group_models(results: Sequence[Result]) -> dict[str, list[Result]]:
    """Results by model display name, each list in setting order."""
    groups: dict[str, list[Result]] = defaultdict(list)
    for result in sorted(results, key=lambda r: (r.model.name, setting_order(r))):
        groups[result.model.name].append(result)
    return dict(groups)


def _representative(results: Sequence[Result]) -> Result:
    """The cell whose config and parameter counts describe the model: a successful one if any."""
    return next((r for r in results if r.status == "ok" and r.model.params), results[0])


def model_summaries(results: Sequence[Result], raw: Mapping[int, str] | None = None) -> list[ModelSummary]:
    """A summary of every model, including models whose every cell failed, by name."""
    raw = raw if raw is not None else raw_paths(results)
    groups = group_models(results)
    slugs = unique_slugs(groups)
    models = []
    for name, cells in groups.items():
        rep = _representative(cells)
        dtypes = sorted({r.setting.dtype for r in cells})
        own_config, generic_config = split_config(capped(flatten_config(rep.model.config), MAX_CONFIG_ROWS))
        models.append(
            ModelSummary(
                slug=slugs[name],
                name=name,
                family=rep.model.family,
                source=rep.model.source,
                results=cells,
                explanation=explain(
                    rep.model.config,
                    rep.model.params,
                    dtypes,
                    rep.model.source,
                    run_dtypes=[r.setting.dtype for r in cells if r.method != "estimated"],
                ),
                config_rows=own_config,
                generic_config_rows=generic_config,
                tables=cell_tables(cells, raw),
            )
        )
    return sorted(models, key=lambda m: m.name.lower())


# --------------------------------------------------------------------------- the whole set


@dataclass(frozen=True)
class Measured:
    """What was measured: counts, machines and dates."""

    models: int
    cells: int
    ok: int
    failed: dict[str, int]
    estimated: int
    suites: list[tuple[str, int]]
    hardware: list[tuple[str, str, int]]  # name, kind, cells
    first: str
    last: str

    def lines(self, title: str) -> tuple[list[str], list[str]]:
        """(a title screen's subtitle lines, the longer sentences for speaker notes)."""
        when = self.first if self.first == self.last else f"{self.first} to {self.last}"
        failed = ", ".join(f"{n} {status}" for status, n in self.failed.items())
        subtitle = [
            f"Measured {when}" if self.first else "Measured: no results",
            " · ".join(name for name, _, _ in self.hardware) or "no hardware",
            f"{plural(self.models, 'model')}, {self.cells} cells" + (f" ({failed})" if failed else ""),
        ]
        notes = [
            f"{title}.",
            f"{self.cells} cells of {self.models} models, {self.ok} succeeded"
            + (f"; {failed}." if failed else "."),
            "Hardware: " + "; ".join(f"{name} ({n} cells)" for name, _, n in self.hardware) + ".",
            "Result sets: " + ", ".join(f"{s} ({n})" for s, n in self.suites) + ".",
        ]
        return subtitle, notes


def measured_summary(results: Sequence[Result], models: int) -> Measured:
    """Counts, machines and dates of a result set."""
    hardware = Counter((hardware_name(r), device_kind(r)) for r in results)
    dates = sorted(r.started_at[:10] for r in results)
    return Measured(
        models=models,
        cells=len(results),
        ok=sum(r.status == "ok" for r in results),
        failed=dict(sorted(Counter(r.status for r in results if r.status != "ok").items())),
        estimated=sum(r.method == "estimated" for r in results),
        suites=sorted(Counter(r.suite for r in results).items()),
        hardware=[
            (name, kind, n) for (name, kind), n in sorted(hardware.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        first=dates[0] if dates else "",
        last=dates[-1] if dates else "",
    )


@dataclass(frozen=True)
class SuiteSummary:
    """One suite's results: the protocols and environments they ran under, raw files per model."""

    suite: str
    results: list[Result]
    protocols: list[tuple[dict[str, Any], int]]
    environments: list[tuple[str, dict[str, Any], int]]  # hardware, fields, cells
    raw_by_model: list[tuple[str, list[tuple[str, str]]]]  # model name, [(cell, path)]


def _env_fields(result: Result) -> dict[str, Any]:
    env = result.environment.model_dump(exclude={"gpu", "cpu"})
    return {k: v for k, v in env.items() if v is not None}


def suite_summaries(results: Sequence[Result], raw: Mapping[int, str]) -> list[SuiteSummary]:
    """Protocols, environments and raw files per suite."""
    by_suite: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        by_suite[result.suite].append(result)
    sets = []
    for suite in sorted(by_suite):
        cells = sorted(by_suite[suite], key=lambda r: (r.model.name, setting_order(r)))
        protocols = Counter(json.dumps(r.protocol.model_dump(), sort_keys=True) for r in cells if r.protocol)
        envs = Counter(
            (hardware_name(r), json.dumps(_env_fields(r), sort_keys=True))
            for r in cells
            if r.method == "measured"
        )
        by_model: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for r in cells:
            by_model[r.model.name].append((r.cell, raw[id(r)]))
        sets.append(
            SuiteSummary(
                suite=suite,
                results=cells,
                protocols=[(json.loads(p), n) for p, n in sorted(protocols.items())],
                environments=[(hw, json.loads(e), n) for (hw, e), n in sorted(envs.items())],
                raw_by_model=sorted(by_model.items()),
            )
        )
    return sets


@dataclass(frozen=True)
class HardwareSummary:
    """One machine's cells and what we say about it (findings: None where no measured cell
    succeeded there, e.g. estimates only)."""

    hardware: str
    kind: str
    results: list[Result]
    findings: HardwareFindings | None

    @property
    def failed(self) -> str:
        return status_counts(self.results)


@dataclass
class Summary:
    """What we say about a result set, computed once by `summarize`."""

    results: list[Result]  # file order
    raw: dict[int, str]  # id(result) -> published raw JSON path
    models: list[ModelSummary]  # by name
    findings: list[HardwareFindings]  # machines with the most measured cells first
    hardware: list[HardwareSummary]  # machines with the most cells first
    suites: list[SuiteSummary]  # by suite name
    measured: Measured
    failed: list[Result]  # every cell that did not succeed, by model then setting
    fit: FitMatrix  # models x hardware: the best setting that fits (report.fit)

    @property
    def slug_of(self) -> dict[str, str]:
        """Model name -> slug."""
        return {m.name: m.slug for m in self.models}

    def model(self, name: str) -> ModelSummary:
        return next(m for m in self.models if m.name == name)


def summarize(results: Iterable[Result]) -> Summary:
    """Compute everything the outputs say about `results`, once."""
    ordered = sorted(results, key=file_order)
    raw = raw_paths(ordered)
    models = model_summaries(ordered, raw)
    per_machine = findings(ordered)
    found = {f.hardware: f for f in per_machine}
    matrix = fit_matrix(ordered)
    for model in models:
        model.fits = matrix.row(model.name)
    return Summary(
        results=ordered,
        raw=raw,
        models=models,
        findings=per_machine,
        hardware=[
            HardwareSummary(name, device_kind(cells[0]), cells, found.get(name))
            for name, cells in group_by_hardware(ordered).items()
        ],
        suites=suite_summaries(ordered, raw),
        measured=measured_summary(ordered, len(models)),
        failed=sorted(
            (r for r in ordered if r.status != "ok"), key=lambda r: (r.model.name, setting_order(r))
        ),
        fit=matrix,
    )
