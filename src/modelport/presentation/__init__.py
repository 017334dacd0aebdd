"""Presentation: plots, HTML pages and terminal renderings of results computed elsewhere.

Nothing here computes a statistic; the CLI, the demo and the server's reports all draw
through it.
"""
