"""``ridgeline measure``: microbenchmarks of the machine at hand, saved as a hardware profile.

bench.py runs the cases (torch, lazily imported), profile.py reduces them to a profile and
writes/reads it, run.py chooses the cases (full or --quick) and drives them.
"""
