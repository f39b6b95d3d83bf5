"""Several ``fleet serve`` replicas on one PostgreSQL: who dispatches which hub (leases with a
fencing token). Pure rules in :mod:`.lease`, SQL in :mod:`.lease_store`, the renewal loop in
:mod:`.ownership`."""
