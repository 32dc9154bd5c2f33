"""`reprostack provenance`: against a real `serve` process on loopback the production model's chain
verifies; each link broken on purpose is named as the first broken link; the statement is in-toto
Statement v1 and its SSH signature verifies (and a tampered statement does not).

Projects: conftest.production_once (stand-in encoder, v0.1.0 in production), cloned per test."""

import json
import shutil
import subprocess
import time

import pytest
from factories import REPO, clone, params_of
from tools import cli_process, free_port, git, run_cli, serving_process

from reprostack.provenance import chain

NAME = params_of(REPO).model_name
LINKS = [
    "server",
    "registry",
    "tag",
    "model files",
    "run record",
    "dvc.lock",
    "snapshot",
    "table",
    "embedding model",
    "environment lock",
]


@pytest.fixture
def production(production_once, tmp_path):
    return clone(production_once, tmp_path / "production")


def statuses(root, **kwargs):
    walked = chain.walk(root, params_of(root), NAME, **kwargs)
    return {link.name: link.status for link in walked.links}, walked


def test_a_real_server_proves_what_it_serves_and_the_statement_is_in_toto(production):
    assert [name for name, _ in chain.links.CHECKS] == LINKS
    with serving_process(production, "serve", "--model", NAME, "--port", str(free_port())) as (port, log):
        started = time.perf_counter()
        result = cli_process(production, "provenance", "--url", f"http://127.0.0.1:{port}", "--out", "prov.json")
        seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split(":")[0] for line in result.stdout.splitlines()[:10]] == [f"ok   {n}" for n in LINKS]
    assert f"{NAME} v0.1.0: provenance verified" in result.stdout
    # the goal is 3 s on the sample project (a whole process, server asked; ~1 s measured here when
    # quiet): asserted loosely, since 2 shared cores under load stretch any process start
    assert seconds < 15, seconds
    doc = json.loads((production / "prov.json").read_text())
    entry = json.loads((production / "models" / "registry.json").read_text())["models"][0]["versions"][0]
    assert doc["_type"] == "https://in-toto.io/Statement/v1"
    assert doc["subject"] == [{"name": entry["model"]["path"], "digest": {"sha256": entry["model"]["sha256"]}}]
    assert doc["predicateType"] == "https://reprostack.dev/provenance/chain/v1"
    assert doc["predicate"]["verified"] is True and doc["predicate"]["server"] == f"http://127.0.0.1:{port}"
    assert [link["name"] for link in doc["predicate"]["links"]] == LINKS
    assert doc["predicate"]["links"][0]["evidence"] == {"sha256": entry["model"]["sha256"]}


def test_a_server_holding_other_bytes_than_the_registry_names_is_the_registry_link(production):
    path = production / "models" / "registry.json"
    with serving_process(production, "serve", "--model", NAME, "--port", str(free_port())) as (port, log):
        data = json.loads(path.read_text())
        data["models"][0]["versions"][0]["model"]["sha256"] = "0" * 64  # registry.json edited under it
        path.write_text(json.dumps(data))
        result = run_cli(production, "provenance", "--url", f"http://127.0.0.1:{port}", "--json")
    found = result.json()
    assert result.returncode == 1 and found["first_broken"] == "registry", found["links"]
    assert found["links"][0]["status"] == "ok"  # the server still holds the verified bytes it loaded
    assert "registry.json records 000000000000" in found["links"][1]["detail"]


def test_a_server_that_is_down_is_the_broken_link(production):
    result = run_cli(production, "provenance", "--url", f"http://127.0.0.1:{free_port()}", "--json")
    assert result.returncode == 1
    found = result.json()
    assert found["first_broken"] == "server" and found["links"][1]["status"] == "ok"  # the rest is still checked


def tamper_model(root):
    path = next((root / "models" / NAME / "v0.1.0").glob("model.pkl"))
    path.chmod(0o644)
    path.write_bytes(path.read_bytes() + b"\0")


def edit_manifest(root):
    snap = next((root / params_of(root).paths.snapshots).glob("*/*/manifest.json"))
    snap.chmod(0o644)
    data = json.loads(snap.read_text())
    data["notes"] = "edited"
    data["files"][0]["size_bytes"] += 1
    snap.write_text(json.dumps(data))


def move_tag(root):
    git(root, "tag", "-f", "-a", "-m", "moved", f"{NAME}@v0.1.0", "HEAD")


def remove_table_version(root):
    from reprostack import vectors

    pointer = vectors.read_vectors_pointer(root / params_of(root).paths.vectors_pointer)
    versions = root / pointer.uri / f"{pointer.table}.lance" / "_versions"
    version = vectors.resolve_version(pointer.model_copy(update={"uri": str(root / pointer.uri)}))  # by its tag
    removed = [p for p in versions.glob("*.manifest") if p.stem in (str(version), str(2**64 - 1 - version))]
    assert removed  # Lance's own name for that version's manifest (v1 or v2 naming)
    for path in removed:
        path.unlink()


def lose_candidate_listing(root):
    """The DVC cache loses the listing of the candidate the building commit's dvc.lock names."""
    from reprostack.provenance.context import lock_entries

    _, walked = statuses(root)
    lock = lock_entries(git(root, "show", f"{walked.entry['git']['commit']}:dvc.lock").encode())
    md5 = lock[params_of(root).paths.candidate]["md5"].removesuffix(".dir")
    (root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / f"{md5[2:]}.dir").unlink()


def other_embedding_weights(root):
    """The registry says the version was made with other weights than the table's encoder."""
    path = root / "models" / "registry.json"
    data = json.loads(path.read_text())
    data["models"][0]["versions"][0]["embedding"]["fingerprint"] = "0" * 64
    path.write_text(json.dumps(data))


def other_lock(root):
    with open(root / "requirements.lock", "a") as lock:
        lock.write("tomli==2.0.1\n")


@pytest.mark.parametrize(
    ("breakage", "link"),
    [
        (tamper_model, "model files"),
        (edit_manifest, "snapshot"),
        (move_tag, "tag"),
        (remove_table_version, "table"),
        (other_lock, "environment lock"),
        (lose_candidate_listing, "dvc.lock"),
        (other_embedding_weights, "embedding model"),
    ],
)
def test_each_broken_link_is_named_first(production, breakage, link):
    found, _ = statuses(production)
    assert set(found.values()) == {"ok", "skipped"} and found["server"] == "skipped"
    breakage(production)
    result = run_cli(production, "provenance", NAME, "v0.1.0", "--json", "--out", "prov.json")
    assert result.returncode == 1
    assert result.json()["first_broken"] == link, result.json()["links"]
    doc = json.loads((production / "prov.json").read_text())
    assert doc["predicate"]["verified"] is False and doc["predicate"]["first_broken"] == link
    text = run_cli(production, "provenance", NAME, "v0.1.0")
    assert f"BROKEN at {link}" in text.stdout and f"FAIL {link}: " in text.stdout


def test_a_run_record_that_lies_about_its_params_breaks_the_run_link(production):
    _, walked = statuses(production)
    record = production / "runs" / f"{walked.entry['run_id']}.json"
    data = json.loads(record.read_text())
    data["params"]["seed"] += 100
    record.write_text(json.dumps(data))
    found, _ = statuses(production)
    assert found["run record"] == "broken" and found["environment lock"] == "skipped"


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs OpenSSH's ssh-keygen")
def test_signed_statement_verifies_and_a_tampered_one_does_not(production, tmp_path):
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"ci@example.invalid {(tmp_path / 'id_ed25519.pub').read_text()}")
    made = run_cli(production, "provenance", "--out", "prov.json", "--sign-key", str(key))
    assert made.returncode == 0 and (production / "prov.json.sig").exists(), made.stderr
    args = ["provenance", "--verify", "prov.json", "--allowed-signers", str(allowed)]
    ok = run_cli(production, *args, "--identity", "ci@example.invalid")
    assert ok.returncode == 0 and "signature verified" in ok.stdout, ok.stderr
    wrong = run_cli(production, *args, "--identity", "mallory@example.invalid")
    assert wrong.returncode == 1 and "does not verify for mallory@example.invalid" in wrong.stderr
    (production / "prov.json").write_text(
        (production / "prov.json").read_text().replace('"verified": true', '"verified": false')
    )
    tampered = run_cli(production, *args, "--identity", "ci@example.invalid")
    assert tampered.returncode == 1 and tampered.stderr.count("\n") == 1
    unsigned = run_cli(production, "provenance", "--sign-key", str(key))
    assert (
        unsigned.returncode == 1
        and unsigned.stderr == "error: --sign-key signs the statement file: give --out FILE too\n"
    )
