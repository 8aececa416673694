"""What the API and the CLI call below the HTTP edge: opening a backend, its schema,
purge, planner statistics, the artifact store and log transfer."""
