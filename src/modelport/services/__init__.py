"""The service layer: workflows that every front end (HTTP, CLI, demo) calls the same way.

Transports only adapt (parse their input, call a service, render its typed result);
what a workflow does and refuses lives here once.
"""
