"""reprostack: a reproducible ML project template.

Kept import-light on purpose: `reprostack --help` must not import torch, lancedb or sklearn.
"""

__version__ = "0.1.0"
