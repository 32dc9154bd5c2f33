"""Stage snapshot: validate data/raw and freeze it into an immutable, hashed snapshot."""

from __future__ import annotations

import sys
from pathlib import Path

from reprostack.core import config
from reprostack.data import dataset, hook, refs, snapshot
from reprostack.stages._runner import run


def main() -> None:
    params = config.load_params()
    data = params.data
    # Validate before copying anything, so bad input leaves no snapshot directory behind.
    # The project's data hook too (data.preprocess), so a broken hook stops here, not in embed.
    table = hook.read_dataset(Path(data.raw_dir) / data.file, data)
    for label, n in dataset.thin_labels(table.labels, data.test_size).items():
        print(
            f"warning: label {label!r} has only {n} example(s), too few for a held-out split of "
            f"{data.test_size}; add examples or merge the label",
            file=sys.stderr,
        )
    snap = snapshot.create(data.raw_dir, params.paths.snapshots, data.name, link=data.link, only=[data.file])
    refs.write_snapshot_pointer(params.paths.snapshot_pointer, snap)
    print(f"snapshot {snap.dataset}/{snap.version} ({snap.path})")


if __name__ == "__main__":
    run(main)
