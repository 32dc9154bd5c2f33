"""Data: immutable, content-addressed snapshots of the raw data and their sha256 manifests."""

from reprostack.data import dataset, hashing, manifest, refs, snapshot

__all__ = ["dataset", "hashing", "manifest", "refs", "snapshot"]
