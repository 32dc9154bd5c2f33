"""embedding.engine: ray. Encoding on a Ray cluster with Lance's own distributed write path.

Ray is imported inside functions only: the local engine and the CLI never pay for it.
"""
