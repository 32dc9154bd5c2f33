"""`reprostack serve`: one registered model over HTTP, batched, monitored, following the registry.

app (FastAPI app, the model slot), batcher (the queue and the one inference worker), metrics
(Prometheus), kserve (Open Inference Protocol v2). Modules import FastAPI at the top, so import
them only where serving happens (cli/serve.py), never from light code.
"""
