"""A torn vector table: data files that are missing or not the size the manifest recorded (a copy
cut short, a disk that filled, a hand edit). Found without reading them (the reader's answer is
a Rust IO error, not a name), and repaired without losing the table's history:

- restore: the store holds the file at its recorded size (files never change once written, so
  the same name at the same size is the same file): copy it back, and every version is whole;
- drop: no copy anywhere: commit a new version without the torn fragments. Older versions and
  run tags stay (those that used the torn file stay unreadable, and say so); the next embed
  re-embeds the rows that went with them, since they are now missing from the table. A content
  tag (`snap-<snapshot>-<content>`) on a torn version is removed: it claims that version holds
  that content, and embed would pin the torn version again by it; embed tags the rebuilt
  version with the same name once it holds the same content.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reprostack.core.errors import VectorStoreError
from reprostack.vectors import lance_table

CONTENT_TAG_PREFIX = "snap-"  # the embed stage's tag naming a version's content


@dataclass(frozen=True)
class TornFile:
    fragment_id: int
    path: str  # relative to the table directory: data/<uuid>.lance
    recorded: int  # bytes, from the manifest (0: not recorded)
    actual: int | None  # bytes here, None: missing

    def describe(self) -> str:
        if self.actual is None:
            return f"{self.path} is missing"
        return f"{self.path} holds {self.actual} bytes, the table recorded {self.recorded}"


def torn_files(table_dir: Path, data) -> list[TornFile]:
    """The data files of a dataset version (a pylance LanceDataset) that are missing here or of
    another size than its manifest records."""
    found = []
    for fragment in data.get_fragments():
        for f in fragment.data_files():
            path = table_dir / "data" / f.path
            recorded = int(getattr(f, "file_size_bytes", 0) or 0)
            actual = path.stat().st_size if path.is_file() else None
            if actual is None or (recorded and actual != recorded):
                found.append(TornFile(fragment.fragment_id, f"data/{f.path}", recorded, actual))
    return found


def drop_fragments(table_dir: Path, fragment_ids: list[int]) -> int:
    """Commit a version of the latest one without these fragments (no row of theirs is read);
    the new version's number."""
    import lance

    try:
        data = lance.dataset(str(table_dir))
        kept = {f.fragment_id for f in data.get_fragments()}
        gone = sorted(set(fragment_ids) & kept)
        if not gone:
            return data.version
        op = lance.LanceOperation.Delete(updated_fragments=[], deleted_fragment_ids=gone, predicate="false")
        return lance.LanceDataset.commit(str(table_dir), op, read_version=data.version).version
    except (OSError, ValueError, RuntimeError) as exc:
        raise VectorStoreError(
            f"{table_dir}: cannot drop the torn fragments ({str(exc).splitlines()[0][:200]})"
        ) from None


def versions_using(table_dir: Path, uri: str, name: str, storage_options: dict | None = None) -> dict[int, list]:
    """{version: its torn files} for the latest version and every tagged one (what readers use)."""
    latest = lance_table.dataset(uri, name, None, storage_options)
    wanted = {latest.version, *(t["version"] for t in latest.tags.list().values())}
    found = {}
    for version in sorted(wanted):
        torn = torn_files(table_dir, latest.checkout_version(version))
        if torn:
            found[version] = torn
    return found


def untag_content(table_dir: Path, versions: set[int]) -> list[str]:
    """Remove the content tags of these (torn) versions; the names removed."""
    import lance

    data = lance.dataset(str(table_dir))
    gone = [n for n, t in data.tags.list().items() if n.startswith(CONTENT_TAG_PREFIX) and t["version"] in versions]
    for name in gone:
        data.tags.delete(name)
    return gone
