"""``fleet demo``: the whole system on one machine (broker, ground control on SQLite, simulated
vehicles with their agents, a seeded city) driven through the public API, as an operator would."""
