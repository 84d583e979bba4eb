"""Monitoring: the cluster-wide on/off switch, the sampler, metrics history and alerts."""
