"""Issue 17 at the report's door: control characters, huge integers, links out of the results
folder, and an output folder that cannot be written; each one line naming the file and the field."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from report.cli import EXIT_STORAGE, main
from report.load import InvalidResultError, load_results
from tests.report.chart_fixtures import small_set, write_results


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return write_results(small_set(n_cells=8, n_models=2, xss=False), tmp_path / "results")


def _first(folder: Path) -> tuple[Path, dict]:
    path = sorted(folder.rglob("*.json"))[0]
    return path, json.loads(path.read_text())


def _message(path: Path) -> str:
    with pytest.raises(InvalidResultError) as caught:
        load_results([path])
    message = str(caught.value)
    assert "\n" not in message and path.name in message
    return message


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("name", "Bad\fname", "U+000C"),
        ("name", "abc\u202egnp.exe", "U+202E"),
        ("family", "Fam\x1b[2J", "U+001B"),
    ],
)
def test_control_and_bidi_characters_in_names_are_refused(
    good: Path, field: str, value: str, code: str
) -> None:
    path, document = _first(good)
    document["model"][field] = value
    path.write_text(json.dumps(document))
    message = _message(path)
    assert f": model.{field}: holds the control character {code}" in message
    assert value not in message  # shown escaped
    assert "\x1b" not in message and "\u202e" not in message and "\f" not in message


@pytest.mark.parametrize(
    ("where", "key"),
    [(("model", "params"), "total"), (("setting",), "batch_size"), (("metrics", "memory"), "peak_rss_bytes")],
)
def test_a_400_digit_integer_is_out_of_bounds_naming_the_field(
    good: Path, where: tuple[str, ...], key: str
) -> None:
    path, document = _first(good)
    node = document
    for part in where:
        node = node[part]
    node[key] = 10**400
    path.write_text(json.dumps(document))
    message = _message(path)
    assert f": {'.'.join(where)}.{key}: should be less than" in message


def test_a_huge_integer_in_the_config_is_refused(good: Path) -> None:
    path, document = _first(good)
    document["model"]["config"]["hidden_size"] = 10**30
    path.write_text(json.dumps(document))
    assert ": model.config: hidden_size: an integer beyond 64 bits" in _message(path)


def test_a_5000_digit_integer_names_the_file_and_skip_invalid_skips_it(good: Path, capsys) -> None:
    files = sorted(good.rglob("*.json"))
    files[0].write_text(files[0].read_text().replace('"batch_size": ', '"batch_size": ' + "9" * 5000, 1))
    document = json.loads(files[1].read_text())
    document["model"]["params"]["total"] = 10**400
    files[1].write_text(json.dumps(document))
    assert "Exceeds the limit (4300 digits)" in _message(files[0])
    loaded = load_results([good], skip_invalid=True)
    assert sorted(i.path.name for i in loaded.skipped) == sorted(f.name for f in files[:2])
    assert len(loaded) == len(files) - 2
    # the whole report goes on with --skip-invalid, naming both files
    code = main(
        [str(good), "--out", str(good.parent / "build"), "--formats", "html", "--no-site", "--skip-invalid"]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"{files[0].name}: not a readable result: Exceeds the limit (4300 digits)" in err
    assert f"{files[1].name}: model.params.total: should be less than" in err


def test_a_link_leaving_the_results_folder_is_not_read(good: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    path, document = _first(good)
    document["cell"] = "f" * 10
    outside.mkdir()
    (outside / "secret.json").write_text(json.dumps(document))
    link = good / path.parent.name / "linked.json"
    link.symlink_to(outside / "secret.json")
    inside = good / path.parent.name / "alias.json"  # a link that stays inside is just a file
    inside.symlink_to(path)
    loaded = load_results([good])
    assert "f" * 10 not in {r.cell for r in loaded}
    assert len(loaded) == len(small_set(n_cells=8, n_models=2, xss=False))
    (note,) = loaded.notes
    assert "linked.json: not read, a link to a file outside the results folder" in note
    assert load_results([link]).results[0].cell == "f" * 10  # named explicitly, it is read


def test_out_that_is_a_file_or_read_only_is_one_line_with_exit_4(good: Path, tmp_path: Path, capsys) -> None:
    a_file = tmp_path / "out-file"
    a_file.write_text("")
    assert main([str(good), "--out", str(a_file), "--formats", "html", "--no-site"]) == EXIT_STORAGE
    err = capsys.readouterr().err
    assert err == f"error: cannot write {a_file}: not a folder (ENOTDIR)\n"
    read_only = tmp_path / "ro"
    read_only.mkdir()
    if os.geteuid() == 0:  # root ignores permission bits: mount a read-only tmpfs
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(read_only)], capture_output=True
        )
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        cause = "Read-only file system (EROFS)"
    else:
        read_only.chmod(0o555)
        cause = "Permission denied (EACCES)"
    try:
        assert main([str(good), "--out", str(read_only), "--formats", "html", "--no-site"]) == EXIT_STORAGE
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", str(read_only)], capture_output=True)
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write {read_only}/") and err.endswith(f": {cause}\n")
    assert err.count("\n") == 1


def test_a_huge_config_is_summarized_where_it_is_published(good: Path):
    """A result carrying a 1.5 MB config loads (it is valid), but the site publishes a note of
    its size instead of it, and the model page's config table stops at MAX_CONFIG_ROWS."""
    from report.site import MAX_PUBLISHED_CONFIG_BYTES, published_json
    from report.summary import MAX_CONFIG_ROWS, model_summaries

    path, data = _first(good)
    data["model"]["config"] = {f"key_{i}": "x" * 60 for i in range(20_000)}
    path.write_text(json.dumps(data))
    result = next(r for r in load_results([good]) if len(r.model.config) == 20_000)
    published = published_json(result)
    assert len(published) < MAX_PUBLISHED_CONFIG_BYTES
    assert "is not published" in json.loads(published)["model"]["config"]["_omitted"]
    page = next(m for m in model_summaries([result]) if m.name == result.model.name)
    rows = page.config_rows + page.generic_config_rows
    assert (
        len(rows) == MAX_CONFIG_ROWS
        and rows[-1][1] == f"{20_000 - MAX_CONFIG_ROWS + 1:,} more keys: see the raw JSON"
    )
    small = next(r for r in load_results([good]) if len(r.model.config) != 20_000)
    assert json.loads(published_json(small))["model"]["config"] == small.model.config  # untouched


def test_an_export_error_names_the_output_folder_not_the_deleted_staging_one(
    good: Path, tmp_path: Path, monkeypatch
):
    """A render that fails says which image under --out it was drawing and the result files that
    image draws; the staging folder it really wrote into is gone by the time the user reads it."""
    import report.build as build_module
    from report.export import ExportError

    def failing(jobs, **_):
        raise ExportError(f"{next(iter(jobs[0].outputs.values()))}: plotly.js failed: Event")

    monkeypatch.setattr(build_module, "export_images", failing)
    out = tmp_path / "out"
    with pytest.raises(ExportError) as caught:
        build_module.build([good], out, steps=["charts"], formats=["png"], cache=False)
    message = str(caught.value)
    assert str(out) in message and ".gpuscape-build-" not in message and "plotly.js failed" in message
    assert "result file" in message and str(good) in message  # the input behind the image, by path
