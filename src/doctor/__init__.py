"""The cluster doctor: configuration that loses or stalls work, each finding with its severity,
the evidence read from the cluster and the fix. One module per check in `checks/`, listed in
`registry.py`; `doctor.py` runs them concurrently, each bounded in time, results cached briefly.
"""

from src.doctor.doctor import Doctor, DoctorReport
from src.doctor.model import Advisory, Severity

__all__ = ["Advisory", "Doctor", "DoctorReport", "Severity"]
