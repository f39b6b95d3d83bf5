"""The parts of ``benchmarks/chaos.py``: the independent recorder, the child processes, the
faults, and the pure verdict that checks ground control's account against the recording."""
