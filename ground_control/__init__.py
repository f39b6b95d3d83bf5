"""Ground control: the fleet operator's service (API, persistence, planning, dispatch)."""
