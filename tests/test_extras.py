"""Optional extras: without one, the feature that needs it fails with one line naming the
install command, and nothing is changed; with it, the check costs no import."""

import re
import sys

import pytest
from tools import run_cli

from reprostack.core import extras
from reprostack.core.errors import MissingExtraError


@pytest.fixture
def without(monkeypatch):
    """Make modules unimportable here, as if their extra were not installed."""

    def hide(*modules: str) -> None:
        for module in modules:
            monkeypatch.setitem(sys.modules, module, None)

    return hide


def test_every_extra_is_installed_for_this_repositorys_tests():
    assert {extra: extras.missing(extra) for extra in extras.EXTRAS} == {
        "onnx": [],
        "openvino": [],
        "ray": [],
        "s3": [],
        "serve": [],
    }


def test_an_exported_backend_without_its_extra_is_one_line_before_any_work(project, without):
    params = project / "params.yaml"
    text, found = re.subn(r"(?m)^  backend: \w+$", "  backend: onnx", params.read_text())
    assert found == 1
    params.write_text(text)
    without("onnxruntime")
    result = run_cli(project, "vectors", "migrate", "--to", "sentence-transformers/all-MiniLM-L6-v2")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "error: reprostack vectors migrate needs the onnx extra: pip install 'reprostack[onnx]'"
    )


def test_serve_without_the_serve_extra_is_one_line(tmp_path, without):
    without("fastapi")
    result = run_cli(tmp_path, "serve", "--model", "m", "--port", "0")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == "error: reprostack serve needs the serve extra: pip install 'reprostack[serve]'\n"


def test_the_ray_engine_without_the_ray_extra_is_one_line(without):
    from reprostack.cluster import session
    from reprostack.core.params import RayParams

    without("lance_ray")  # one of the extra's modules is enough to refuse
    with pytest.raises(MissingExtraError) as refused:
        with session.connect(RayParams()):
            pass
    assert str(refused.value) == "embedding.engine: ray needs the ray extra: pip install 'reprostack[ray]'"


def test_an_s3_store_without_the_s3_extra_is_refused_before_dvc_records_it(project, without):
    config = (project / ".dvc" / "config").read_text()
    without("dvc_s3")
    result = run_cli(project, "store", "init", "s3://bucket/path", "--endpoint-url", "http://127.0.0.1:9")
    assert result.returncode == 1
    assert result.stderr == ("error: the store s3://bucket/path needs the s3 extra: pip install 'reprostack[s3]'\n")
    assert (project / ".dvc" / "config").read_text() == config


def test_the_check_imports_nothing(monkeypatch):
    """find_spec only: a run that never starts Ray must not pay Ray's import."""
    monkeypatch.delitem(sys.modules, "ray", raising=False)
    assert extras.missing("ray") == []
    assert "ray" not in sys.modules
