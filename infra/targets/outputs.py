"""The stack outputs both targets export: where the stack answers, and what it runs."""

from __future__ import annotations

import pulumi

from infra.config import StackConfig
from infra.secrets import Secrets


def export_common(
    cfg: StackConfig,
    secrets: Secrets,
    edge_release: pulumi.Input[str],
    app_image: pulumi.Input[str],
) -> None:
    pulumi.export("url", cfg.edge.url)
    if secrets.generated_api_key is not None:
        # dev only: `pulumi stack output devApiKey --show-secrets`, for
        # curl -H "Authorization: Bearer …"
        pulumi.export("devApiKey", secrets.generated_api_key)
    pulumi.export("healthUrl", f"{cfg.edge.url}/healthz")
    pulumi.export("readyUrl", f"{cfg.edge.url}/readyz")
    pulumi.export("edgeRelease", edge_release)
    pulumi.export("dockerHost", cfg.access.docker_host or "local engine")
    pulumi.export(
        "images",
        {
            "app": app_image,
            "nginx": cfg.images.nginx,
            "redis": cfg.images.redis,
            "qdrant": cfg.images.qdrant,
        },
    )
