"""The model: sentence-transformers encoding, scikit-learn training and evaluation.

Pure ML logic on arrays and params; torch, sentence-transformers and scikit-learn are imported
only inside the functions that need them, so importing this package stays cheap.
"""

from reprostack.model import embedding, encoding, evaluation, training
from reprostack.model.embedding import LazyEncoder, embed, fingerprint, load_encoder, resolve
from reprostack.model.encoding import encode
from reprostack.model.evaluation import metrics, read_metrics
from reprostack.model.training import ModelCard, build_classifier, load_classifier, read_card, save_model, train

__all__ = [
    "LazyEncoder",
    "ModelCard",
    "build_classifier",
    "embed",
    "embedding",
    "encode",
    "encoding",
    "evaluation",
    "fingerprint",
    "load_classifier",
    "load_encoder",
    "metrics",
    "read_card",
    "read_metrics",
    "resolve",
    "save_model",
    "train",
    "training",
]
