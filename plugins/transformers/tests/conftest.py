import os

# Before torch loads: spinning OpenMP threads make a shared CPU crawl (see the Makefile).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
