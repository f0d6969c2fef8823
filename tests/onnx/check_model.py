"""tests/onnx/check_model.py MODEL.onnx [float32|float16|bfloat16] — the ONNX checker's full check
(onnx.checker.check_model(full_check=True): schema, types and shape inference) on an exported
graph, plus what the exporter promises: inputs with the dynamic axes batch_size and
sequence_length, and the model's weights stored in the expected dtype (external data included)."""
import sys

import onnx

path = sys.argv[1]
onnx.checker.check_model(path, full_check=True)
m = onnx.load(path)  # external data is read from next to the graph
for i in m.graph.input:
    dims = [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
    if i.name.startswith("past_key_values."):  # [batch_size, kv heads, past_sequence_length, head dim]
        ok = dims[0] == "batch_size" and dims[2] == "past_sequence_length" and i.name.endswith((".key", ".value"))
    elif i.name == "attention_mask" and any(n.name.startswith("past_key_values.") for n in m.graph.input):
        ok = dims == ["batch_size", "past_sequence_length + sequence_length"]
    elif i.name == "use_cache_branch":  # the merged decoder's If condition (Optimum: bool [1])
        ok = dims == [1] and i.type.tensor_type.elem_type == onnx.TensorProto.BOOL
    elif i.name == "pixel_values":
        ok = dims == ["batch_size", "num_channels", "height", "width"]
    else:
        ok = dims == ["batch_size", "sequence_length"]
    if not ok:
        sys.exit(f"{path}: input {i.name} has axes {dims}")
if len(sys.argv) > 2:
    want = {"float32": onnx.TensorProto.FLOAT, "float16": onnx.TensorProto.FLOAT16, "bfloat16": onnx.TensorProto.BFLOAT16}[sys.argv[2]]
    weights = [t for t in m.graph.initializer if not t.name.startswith("/")]
    wrong = [t.name for t in weights if t.data_type != want]
    if not weights or wrong:
        sys.exit(f"{path}: weights not stored as {sys.argv[2]}: {wrong[:5]}")
print(f"ok {path}: opset {m.opset_import[0].version}, {len(m.graph.node)} nodes, "
      f"inputs {[i.name for i in m.graph.input]}, outputs {[o.name for o in m.graph.output]}")
