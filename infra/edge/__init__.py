"""The edge: nginx's pure renderer, its release installer, TLS and ACME."""
