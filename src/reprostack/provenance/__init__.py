"""Provenance: prove which model bytes are serving and walk back from them, link by link, to the
data, table, embedding weights and environment that made them (chain.py, links.py); write the
result as an in-toto Statement, optionally signed with an SSH key (statement.py)."""

from reprostack.provenance.chain import Chain, Link, walk

__all__ = ["Chain", "Link", "walk"]
