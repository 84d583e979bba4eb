"""One module per check; each exports `CHECK` (see src/doctor/registry.py)."""
