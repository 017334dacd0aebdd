"""Packaging: a served model as a container build context, Kubernetes manifests and compose.

``bundle`` (what is served, the manifest), ``lock`` (wheelhouse and hashed lock),
``dockerfile``, ``kubernetes``, ``compose``, ``monitoring_files`` (the shipped Grafana and
Prometheus files), ``context`` (writes a package directory from those parts) and ``start``
(the image's entry point). Front ends call :mod:`modelport.services.packaging`.
"""
