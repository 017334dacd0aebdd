"""Deployments: named endpoints with a traffic policy."""
