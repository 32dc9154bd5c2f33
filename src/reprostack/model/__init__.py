"""The model: sentence-transformers encoding, scikit-learn training and evaluation.

Pure ML logic on arrays and params; torch, sentence-transformers and scikit-learn are imported
only inside the functions that need them, so importing this package stays cheap.
"""

from reprostack.model import embedding, encoding, evaluation, training

__all__ = ["embedding", "encoding", "evaluation", "training"]
