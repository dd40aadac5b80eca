"""Programs installed on the host: standard-library Python only."""
