"""report.load: valid folders load in a stable order; every kind of bad file gives a one-line
error naming the file and the field; --skip-invalid sets bad files aside and lists them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from report.load import InvalidResultError, ResultsNotFoundError, load_results
from tests.report.chart_fixtures import small_set, write_results


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return write_results(small_set(xss=False), tmp_path / "results")


def _document(folder: Path) -> tuple[Path, dict]:
    path = sorted(folder.rglob("*.json"))[0]
    return path, json.loads(path.read_text())


def _error(path: Path) -> str:
    with pytest.raises(InvalidResultError) as caught:
        load_results([path])
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(path.name) or path.name in message.split(":")[0]
    return message


def test_folder_loads_every_file_in_a_stable_order(good: Path, tmp_path: Path) -> None:
    loaded = load_results([good])
    expected = small_set(xss=False)
    assert len(loaded) == len(expected)
    assert {r.cell for r in loaded} == {r.cell for r in expected}
    # another layout of the same files (one flat folder, other names) gives the same order
    flat = tmp_path / "flat"
    flat.mkdir()
    for i, path in enumerate(sorted(good.rglob("*.json"), reverse=True)):
        (flat / f"{i:03d}.json").write_text(path.read_text())
    assert [r.cell for r in load_results([flat])] == [r.cell for r in loaded]
    assert loaded.source(loaded.results[0]) is not None


def test_the_same_file_twice_loads_once_and_a_copied_cell_is_listed(good: Path, tmp_path: Path) -> None:
    path, document = _document(good)
    copy = tmp_path / "copy.json"
    copy.write_text(json.dumps(document))
    loaded = load_results([good, path, copy])
    assert len(loaded) == len(small_set(xss=False))
    assert loaded.duplicates == [copy]


def test_corrupt_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"schema": "gpuscape.result/1", "cell": ')
    message = _error(path)
    assert "not valid JSON" in message and "line 1" in message


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ("gpuscape.result/2", "newer gpuscape"),
        ("gpuscape.result/0", "older version"),
        ("something-else/1", "not a gpuscape result"),
        (7, "expected a string"),
    ],
)
def test_wrong_or_future_schema_is_refused(good: Path, schema: object, expected: str) -> None:
    path, document = _document(good)
    document["schema"] = schema
    path.write_text(json.dumps(document))
    message = _error(path)
    assert ": schema: " in message and expected in message


def test_missing_schema_and_missing_field(good: Path) -> None:
    path, document = _document(good)
    del document["model"]["family"]
    path.write_text(json.dumps(document))
    assert ": model.family: missing" in _error(path)
    del document["schema"]
    path.write_text(json.dumps(document))
    assert ": schema: missing" in _error(path)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity_name_the_field(good: Path, literal: str) -> None:
    path, document = _document(good)
    document["metrics"]["decode"]["tokens_per_s"] = 12345.5
    path.write_text(json.dumps(document).replace("12345.5", literal))
    message = _error(path)
    assert ": metrics.decode.tokens_per_s: not a finite number" in message


def test_negative_metric_names_the_field_and_the_value(good: Path) -> None:
    path, document = _document(good)
    document["metrics"]["memory"]["peak_process_bytes"] = -5
    document["metrics"]["memory"]["peak_rss_bytes"] = -5
    path.write_text(json.dumps(document))
    message = _error(path)
    assert ": metrics.memory.peak_" in message and "greater than or equal to 0" in message
    assert "found -5" in message


def test_unknown_field_and_not_an_object(good: Path, tmp_path: Path) -> None:
    path, document = _document(good)
    document["surprise\n\x1b[31m"] = 1
    path.write_text(json.dumps(document))
    message = _error(path)
    assert "unknown field" in message and "\\x1b" in message  # control characters shown, not sent
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    assert "expected a JSON object, found list" in _error(listed)


def test_unsafe_slug_is_refused(good: Path) -> None:
    path, document = _document(good)
    document["model"]["slug"] = "../../etc"
    path.write_text(json.dumps(document))
    assert ": model.slug: " in _error(path)


def test_skip_invalid_lists_bad_files_and_loads_the_rest(good: Path) -> None:
    files = sorted(good.rglob("*.json"))
    files[0].write_text("{")
    document = json.loads(files[1].read_text())
    document["metrics"]["load_s"] = -1.0
    files[1].write_text(json.dumps(document))
    with pytest.raises(InvalidResultError):
        load_results([good])
    loaded = load_results([good], skip_invalid=True)
    assert len(loaded) == len(files) - 2
    assert sorted(i.path.name for i in loaded.skipped) == sorted(f.name for f in files[:2])
    assert all(str(i).count(":") >= 1 and "\n" not in str(i) for i in loaded.skipped)


def test_other_gpuscape_documents_and_hidden_files_are_ignored(good: Path) -> None:
    (good / "manifest.json").write_text(json.dumps({"schema": "gpuscape.manifest/1"}))
    hidden = good / ".partial"
    hidden.mkdir()
    (hidden / "half.json").write_text("{")
    assert len(load_results([good])) == len(small_set(xss=False))


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ResultsNotFoundError, match="no such file or folder"):
        load_results([tmp_path / "nope"])
