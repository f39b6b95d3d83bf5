"""Ed25519 key files and the public proof verifier, shared by ground control and the edge agent.

Kept apart from :mod:`fleet_protocol` (which is pure, no I/O) and from both sides' stacks, so an
agent install and a third party checking a proof need nothing else."""
