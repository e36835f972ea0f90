from pathlib import Path

import pytest

from bench.cli import main
from bench.suite import SuiteError, plan

from .conftest import TINY_LLAMA, tiny_suite


def test_valid_suite_expands_every_combination(write_suite):
    p = plan(write_suite(tiny_suite()))
    assert len(p.cells) == 2 * 2  # 2 models x batch [1, 2]
    assert len({c.id for c in p.cells}) == 4
    assert all(c.setting.device == "cpu" for c in p.cells)


def test_cell_ids_are_stable_and_change_with_the_spec(write_suite):
    a = [c.id for c in plan(write_suite(tiny_suite())).cells]
    assert a == [c.id for c in plan(write_suite(tiny_suite(), "again.yaml")).cells]
    changed = tiny_suite()
    changed["repeats"] = 4
    assert set(a).isdisjoint(c.id for c in plan(write_suite(changed, "changed.yaml")).cells)


def test_model_settings_override_the_matrix(write_suite):
    data = tiny_suite()
    data["models"][0]["settings"] = {"quantization": ["none", "int8"], "batch_size": [1]}
    cells = plan(write_suite(data)).cells
    llama = [c for c in cells if c.model.name == "Llama tiny"]
    assert sorted(str(c.setting.quantization) for c in llama) == ["None", "int8"]
    assert all(c.setting.batch_size == 1 for c in llama)


def _broken(mutate):
    data = tiny_suite()
    mutate(data)
    return data


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (
            lambda d: d["models"][0].update(arch="lama"),
            "models[0] 'Llama tiny'.arch: unknown architecture 'lama' (did you mean 'llama'?)",
        ),
        (lambda d: d["settings"].update(dtype=["float8"]), "settings.dtype: unknown dtype 'float8'"),
        (lambda d: d["settings"].update(batch_size=[0]), "settings.batch_size: must be positive, got 0"),
        (
            lambda d: d["models"][1].update(name="Llama tiny"),
            "models[1] 'Llama tiny'.name: duplicates 'Llama tiny'",
        ),
        (
            lambda d: d["models"][0].update(arch=None, config={}, path="./nowhere"),
            "models[0] 'Llama tiny'.path: no checkpoint folder at './nowhere'",
        ),
        (
            lambda d: d["models"][0]["config"].update(hiden_size=3),
            "models[0] 'Llama tiny'.config.hiden_size: not a field of llama's config (did you mean 'hidden_size'?)",
        ),
        (
            lambda d: d["models"][0].update(hub="x/y"),
            "models[0] 'Llama tiny': give exactly one of arch, path, hub, package (got arch, hub)",
        ),
        (
            lambda d: d["models"][0].update(quantisation="int8"),
            "models[0] 'Llama tiny'.quantisation: Extra inputs are not permitted",
        ),
        (lambda d: d.update(device="tpu"), "device: unknown device 'tpu'"),
    ],
)
def test_invalid_suites_name_the_model_and_key(write_suite, mutate, expected):
    path = write_suite(_broken(mutate))
    with pytest.raises(SuiteError) as info:
        plan(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and expected in message
    assert "\n" not in message


def test_bad_yaml_names_the_line(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nmodels: [\n")
    with pytest.raises(SuiteError, match=r"bad.yaml: line \d+ not valid YAML"):
        plan(path)


def test_optional_missing_package_is_skipped_with_a_note(write_suite):
    data = tiny_suite()
    data["models"].append({"name": "Absent", "package": "no_such_package_here", "optional": True})
    p = plan(write_suite(data))
    assert p.skipped == [("Absent", "package 'no_such_package_here' is not installed")]
    assert all(c.model.name != "Absent" for c in p.cells)


def test_cli_refuses_an_invalid_suite_before_any_cell(write_suite, tmp_path, capsys):
    path = write_suite(_broken(lambda d: d["settings"].update(new_tokens=[-1])))
    out = tmp_path / "results"
    assert main(["run", str(path), "--out", str(out), "--no-progress"]) == 2
    assert "settings.new_tokens: must be positive" in capsys.readouterr().out
    assert not out.exists()


def test_cli_validate_prints_the_cell_count(write_suite, capsys):
    assert main(["validate", str(write_suite(tiny_suite()))]) == 0
    assert "4 cells from 2 models" in capsys.readouterr().out


def test_shipped_suites_are_valid():
    root = Path(__file__).resolve().parents[2] / "suites"
    for name in ("cpu-small.yaml", "gpu-reference.yaml"):
        p = plan(root / name, device="cpu")
        assert p.cells, name
    assert TINY_LLAMA  # the shared tiny config stays importable for other tests
