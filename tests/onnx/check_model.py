"""tests/onnx/check_model.py MODEL.onnx [float32|float16|bfloat16] — the ONNX checker's full check
(onnx.checker.check_model(full_check=True): schema, types and shape inference) on an exported
graph, plus what the exporter promises: inputs with the dynamic axes batch_size and
sequence_length (an encoder-decoder's: Optimum's encoder_sequence_length, decoder_sequence_length,
past_decoder_sequence_length, encoder_sequence_length_out), and the model's weights stored in the expected dtype (external data included)."""
import sys

import onnx

path = sys.argv[1]
onnx.checker.check_model(path, full_check=True)
m = onnx.load(path)  # external data is read from next to the graph
names = [i.name for i in m.graph.input]
# an encoder-decoder graph (export/onnx_seq2seq.c): Optimum's encoder_/decoder_ axis names
seq2seq = any(d.dim_param.startswith("encoder_sequence_length") for i in m.graph.input for d in i.type.tensor_type.shape.dim)
past = any(n.startswith("past_key_values.") for n in names)
decoder = "encoder_attention_mask" in names or "encoder_hidden_states" in names or (seq2seq and past)
for i in m.graph.input:
    dims = [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
    if i.name.startswith("past_key_values.") and not seq2seq:  # [batch_size, kv heads, past_sequence_length, head dim]
        ok = dims[0] == "batch_size" and dims[2] == "past_sequence_length" and i.name.endswith((".key", ".value"))
    elif i.name == "attention_mask" and not seq2seq and any(n.name.startswith("past_key_values.") for n in m.graph.input):
        ok = dims == ["batch_size", "past_sequence_length + sequence_length"]
    elif i.name == "use_cache_branch":  # the merged decoder's If condition (Optimum: bool [1])
        ok = dims == [1] and i.type.tensor_type.elem_type == onnx.TensorProto.BOOL
    elif i.name == "pixel_values":
        ok = dims == ["batch_size", "num_channels", "height", "width"]
    elif seq2seq and i.name.startswith("past_key_values."):  # Optimum's seq2seq cache: decoder and encoder parts
        ok = dims[0] == "batch_size" and dims[2] == ("encoder_sequence_length_out" if ".encoder." in i.name else "past_decoder_sequence_length")
    elif seq2seq and i.name == "input_features":  # Whisper's log-mel features
        ok = dims == ["batch_size", "feature_size", "encoder_sequence_length"]
    elif seq2seq and i.name == "encoder_hidden_states":  # after Whisper's stride-2 convolution: half the frames
        ok = dims[:2] in (["batch_size", "encoder_sequence_length"], ["batch_size", "encoder_sequence_length / 2"]) and len(dims) == 3
    elif seq2seq and i.name in ("input_ids", "attention_mask", "encoder_attention_mask", "decoder_input_ids"):
        want = {"decoder_input_ids": ["batch_size", "decoder_sequence_length"],
                "input_ids": ["batch_size", "decoder_sequence_length"] if decoder else ["batch_size", "encoder_sequence_length"]}
        ok = dims == want.get(i.name, ["batch_size", "encoder_sequence_length"])
        if decoder and past and i.name == "input_ids":  # one new token per step, as Optimum's decoder_with_past
            ok = dims == ["batch_size", 1]
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
