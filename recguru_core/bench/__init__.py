"""Benchmarking: the Recommender contract, the baselines (POP ... BERT4Rec, EMCDR), the
RecGURU family, the model registry, the harness and its report. The top wing; only
cli imports it."""
