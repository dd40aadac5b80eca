#!/bin/bash
# Stand-in of Qdrant's entrypoint: the REST server only (no gRPC on 6334).
exec /opt/standin/bin/python /qdrant/qdrant_standin.py
