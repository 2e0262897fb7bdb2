"""Shipped data: links to the repository's ``arch_configs/`` and ``workloads/``."""
