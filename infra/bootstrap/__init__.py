"""What runs over SSH before the Docker provider exists: host, access, units, swarm."""
