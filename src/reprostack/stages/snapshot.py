"""Stage snapshot: validate data/raw and freeze it into an immutable, hashed snapshot."""

from __future__ import annotations

from pathlib import Path

from reprostack import config
from reprostack.data import dataset, snapshot
from reprostack.stages._runner import run


def main() -> None:
    params = config.load_params()
    data = params.data
    # Validate before copying anything, so bad input leaves no snapshot directory behind.
    dataset.read_text_table(Path(data.raw_dir) / data.file, data.id_column, data.text_column, data.label_column)
    snap = snapshot.create(data.raw_dir, params.paths.snapshots, data.name, link=data.link, only=[data.file])
    snapshot.write_pointer(params.paths.snapshot_pointer, snap)
    print(f"snapshot {snap.dataset}/{snap.version} ({snap.path})")


if __name__ == "__main__":
    run(main)
