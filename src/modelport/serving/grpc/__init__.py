"""Open Inference Protocol (KServe V2) over gRPC, on the HTTP server's runtime and loop.

:mod:`.service` is the servicer, :mod:`.codec` turns tensors into the data the pipeline
validates (with the V2 rules of :mod:`modelport.serving.protocols.v2`), :mod:`.status`
maps errors to status codes and :mod:`.server` starts and stops it. The messages are
generated from ``grpc_predict_v2.proto`` (see ``generate.py``). Needs the ``grpc`` extra:
``pip install 'modelport[grpc]'``.
"""
