"""Docker Swarm (`ora:target swarm`): the same stack as Swarm services. Never imports host."""
