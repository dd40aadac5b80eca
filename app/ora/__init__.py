"""Ora: a small semantic document store served by Gunicorn + Uvicorn workers."""
