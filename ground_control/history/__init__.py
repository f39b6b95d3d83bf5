"""Telemetry history with retention: every flushed sample kept for ``telemetry_retention_days``.
On PostgreSQL a table partitioned by day (dropping a day is dropping a table, no vacuum debt);
on SQLite one table and a DELETE. Rules in :mod:`.partitions` (pure), SQL in :mod:`.store`."""
