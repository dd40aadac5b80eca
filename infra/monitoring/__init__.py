"""Monitoring as data: alert rules, specs, rendered files, the dashboard, the report."""
