"""Data: raw interactions, the readers of every source format, preprocessing (k-core, overlap
control, leave-one-out split, evaluation negatives), the synthetic world, the per-domain
arrays (`domains.CrossDomainData`) and the data fingerprint. Above common only."""
