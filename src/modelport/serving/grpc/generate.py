"""Regenerate the protobuf modules from grpc_predict_v2.proto (needs grpcio-tools).

    python src/modelport/serving/grpc/generate.py

The output is committed, so serving needs only grpcio and protobuf. Three edits follow
protoc, each for a reason:

- the messages go into a descriptor pool of their own, not protobuf's default one:
  tritonclient and the kserve SDK register the same ``inference.*`` names in the default
  pool, and one process (a test, a gateway) may import them and modelport together;
- protoc pins its own protobuf and grpcio versions into the code it writes; the pins are
  dropped, so the extra's floor in pyproject.toml is what applies;
- the service module imports the messages by package, not as a top-level module.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROTO = "grpc_predict_v2.proto"
HEADER = "# ruff: noqa\n# fmt: off\n"
#: protobuf ships no type information: its generated classes are Any to mypy
UNTYPED = "# mypy: ignore-errors\n"


def _messages(text: str) -> str:
    text = re.sub(r"_runtime_version\.ValidateProtobufRuntimeVersion\([^)]*\)\n", "", text)
    text = text.replace("from google.protobuf import runtime_version as _runtime_version\n", "")
    text = text.replace(
        "DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile(",
        "#: a pool of its own: tritonclient and kserve define the same names in the default one\n"
        "POOL = _descriptor_pool.DescriptorPool()\n"
        "DESCRIPTOR = POOL.AddSerializedFile(",
    )
    return HEADER + text


def _service(text: str) -> str:
    text = text.replace(
        "import grpc_predict_v2_pb2 as grpc__predict__v2__pb2",
        "from modelport.serving.grpc import grpc_predict_v2_pb2 as grpc__predict__v2__pb2",
    )
    start = text.index("GRPC_GENERATED_VERSION")
    end = text.index("class GRPCInferenceServiceStub")
    return UNTYPED + HEADER + text[:start] + text[end:]


def main() -> None:
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{HERE}",
                f"--python_out={out}",
                f"--pyi_out={out}",
                f"--grpc_python_out={out}",
                str(HERE / PROTO),
            ],
            check=True,
        )
        generated = Path(out)
        stem = PROTO.removesuffix(".proto")
        (HERE / f"{stem}_pb2.py").write_text(_messages((generated / f"{stem}_pb2.py").read_text()))
        (HERE / f"{stem}_pb2.pyi").write_text(
            UNTYPED + HEADER + (generated / f"{stem}_pb2.pyi").read_text()
        )
        (HERE / f"{stem}_pb2_grpc.py").write_text(
            _service((generated / f"{stem}_pb2_grpc.py").read_text())
        )


if __name__ == "__main__":
    main()
