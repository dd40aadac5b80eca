"""The swarm formed over SSH (prod, ora:swarmNodes): init on the first manager, the join
tokens read from it as secrets, the other nodes joined, node labels from config.

The scripts are infra/bootstrap/swarm_scripts.py's; each is idempotent, so a node already in the
swarm is left as it is. The tokens stay Pulumi secrets and reach the joining nodes only
on stdin, inside the Engine API's join request. A command whose output can hold a token
(init, token-*, join-*) is not logged, and those outputs are stored encrypted:
pulumi-command otherwise streams stdout and stderr into the update log.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_command as command

from infra.bootstrap import swarm_changes, swarm_removal, swarm_scripts
from infra.config.target import SwarmNode


@dataclass(frozen=True)
class SwarmBootstrapArgs:
    nodes: tuple[SwarmNode, ...]  # the first is the manager that runs swarm init
    ssh_user: str
    ssh_port: int
    private_key: pulumi.Output | None  # None: the operator's SSH agent
    address_pool: str = ""
    data_node_moved: bool = False  # ora:swarmDataNodeMoved
    # [swarmNodes, swarmNodeIds] of the last deploy (infra/bootstrap/swarm_changes.py)
    previous: pulumi.Output | None = None


class SwarmBootstrap(pulumi.ComponentResource):
    """`ready`: the label commands, the last step on every node (the services wait on them)."""

    ready: list[command.remote.Command]
    join_tokens: dict[str, pulumi.Output]  # role -> token, secret
    node_ids: dict[str, pulumi.Output]  # host -> swarm node ID

    def __init__(
        self, name: str, args: SwarmBootstrapArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("ora:infra:SwarmBootstrap", name, None, opts)
        self._args = args
        first, others = args.nodes[0], args.nodes[1:]
        previous = args.previous or pulumi.Output.from_input([None, None])
        # Raises (DataNodeChange) before any command runs: every one waits for init.
        planned = previous.apply(
            lambda before: swarm_changes.removals(*before, args.nodes, args.data_node_moved)
        )
        # swarm init's own messages (its join command is discarded); stdout: the node ID.
        init = self._command(
            f"{name}-init",
            first,
            planned.apply(lambda _: swarm_scripts.init_script(first.advertise, args.address_pool)),
            token_outputs=["stderr"],
        )
        self.join_tokens = {
            role: pulumi.Output.secret(
                self._command(
                    f"{name}-token-{role}",
                    first,
                    swarm_scripts.token_script(role),
                    depends_on=[init],
                    token_outputs=["stdout", "stderr"],
                ).stdout
            )
            for role in sorted({node.role for node in others})
        }
        self.node_ids = {first.host: init.stdout.apply(str.strip)}
        for node in others:
            body = self.join_tokens[node.role].apply(
                lambda token, node=node: swarm_scripts.join_body(
                    token, first.advertise, node.advertise
                )
            )
            # stderr: the engine's reply to the join request; stdout: the node ID.
            join = self._command(
                f"{name}-join-{node.host}",
                node,
                swarm_scripts.join_script(),
                stdin=body,
                token_outputs=["stderr"],
            )
            self.node_ids[node.host] = join.stdout.apply(str.strip)
        self.ready = [
            self._command(
                f"{name}-labels-{node.host}",
                first,  # labels are set on a manager
                self.node_ids[node.host].apply(
                    lambda node_id, node=node: swarm_scripts.label_script(
                        node_id, node.labels, node.role
                    )
                ),
            )
            for node in args.nodes
        ]
        # Nodes the config no longer lists, taken out once the others carry their labels.
        self.removed = planned.apply(lambda found: self._remove(name, first, found))
        self.register_outputs({"nodeIds": self.node_ids, "joinTokens": self.join_tokens})

    def _remove(self, name: str, first: SwarmNode, found) -> list[str]:
        """Per removed node: drained from the first manager, left from the node itself,
        then removed from the swarm on the first manager (infra/bootstrap/swarm_removal.py)."""
        for removal in found:
            node = SwarmNode(removal.host, "worker", (), "")
            drain = self._command(
                f"{name}-drain-{removal.host}",
                first,
                swarm_removal.drain_script(removal.node_id, self._args.data_node_moved),
                depends_on=list(self.ready),
            )
            leave = self._command(
                f"{name}-leave-{removal.host}",
                node,
                swarm_removal.leave_script(),
                depends_on=[drain],
            )
            self._command(
                f"{name}-remove-{removal.host}",
                first,
                swarm_removal.remove_script(removal.node_id),
                depends_on=[leave],
            )
        return [removal.host for removal in found]

    def _command(
        self,
        name: str,
        node: SwarmNode,
        script: str | pulumi.Output,
        stdin: pulumi.Output | None = None,
        depends_on: list[pulumi.Resource] | None = None,
        token_outputs: list[str] | None = None,
    ) -> command.remote.Command:
        """`token_outputs`: the outputs that can hold a join token. Given, the command is
        not logged at all (a failure's error still carries its output) and those outputs
        are secret."""
        connection = command.remote.ConnectionArgs(
            host=node.host,
            port=self._args.ssh_port,
            user=self._args.ssh_user,
            private_key=self._args.private_key,
        )
        return command.remote.Command(
            name,
            connection=connection,
            create=pulumi.Output.from_input(script).apply(swarm_scripts.in_bash),
            stdin=stdin,
            logging=command.remote.Logging.NONE if token_outputs else None,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=depends_on,
                additional_secret_outputs=token_outputs,
            ),
        )
