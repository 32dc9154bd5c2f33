"""The chain as an in-toto Statement v1 (subject: the model file and its sha256; predicate: every
link with its status and digests), and its SSH signature (`ssh-keygen -Y sign`, namespace
reprostack-provenance), verified against an allowed-signers file as git does for commits."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from reprostack.core import jsonio
from reprostack.core.errors import ReprostackError

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://reprostack.dev/provenance/chain/v1"
NAMESPACE = "reprostack-provenance"


class ProvenanceError(ReprostackError):
    """A provenance statement cannot be written, signed or verified."""


def statement(name: str, version: str | None, entry_path: str | None, sha256: str | None, chain, **about) -> dict:
    first = next((link for link in chain if link.status == "broken"), None)
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": entry_path or f"{name}@{version}", "digest": {"sha256": sha256 or ""}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "model": name,
            "version": version,
            **about,
            "verified": first is None,
            "first_broken": first.name if first else None,
            "links": [link.to_json() for link in chain],
        },
    }


def write(path: str | Path, document: dict) -> Path:
    path = Path(path)
    try:
        jsonio.atomic_write_text(path, jsonio.dumps(document))
    except OSError as exc:
        raise ProvenanceError(f"cannot write {path}: {exc.strerror or exc}; choose another --out") from None
    return path


def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise ProvenanceError("ssh-keygen is not installed; install OpenSSH (8.2 or newer) to sign or verify")
    return found


def sign(path: str | Path, key: str | Path) -> Path:
    """Write <path>.sig, the SSH signature of the statement file."""
    path, key = Path(path), Path(key).expanduser()
    if not key.exists():
        raise ProvenanceError(f"signing key {key} does not exist; give the private key with --sign-key")
    Path(f"{path}.sig").unlink(missing_ok=True)  # ssh-keygen refuses to overwrite a signature
    result = subprocess.run(
        [_ssh_keygen(), "-Y", "sign", "-n", NAMESPACE, "-f", str(key), str(path)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise ProvenanceError(f"ssh-keygen could not sign {path}: {result.stderr.strip().splitlines()[-1:]}")
    return Path(f"{path}.sig")


def verify(path: str | Path, allowed_signers: str | Path, identity: str, signature: str | Path | None = None) -> str:
    """Check the statement's signature against an allowed-signers file; ssh-keygen's answer."""
    path = Path(path)
    signature = Path(signature or f"{path}.sig")
    for needed in (path, signature, Path(allowed_signers)):
        if not needed.exists():
            raise ProvenanceError(f"{needed} does not exist")
    with open(path, "rb") as data:
        result = subprocess.run(
            [
                _ssh_keygen(),
                "-Y",
                "verify",
                "-f",
                str(allowed_signers),
                "-I",
                identity,
                "-n",
                NAMESPACE,
                "-s",
                str(signature),
            ],
            stdin=data,
            capture_output=True,
            text=True,
        )
    if result.returncode != 0:
        why = (result.stderr or result.stdout).strip().splitlines()
        raise ProvenanceError(
            f"the signature of {path} does not verify for {identity}: {why[-1] if why else 'refused'}"
        )
    return result.stdout.strip()
