"""Logs, metrics and traces for the API and the worker; workflows/ and domain/ never import it."""
