"""One Docker engine (`ora:target host`, the default): containers."""
