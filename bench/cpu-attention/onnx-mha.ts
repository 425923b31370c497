/**
 * One-node ONNX models for the peer (onnxruntime's com.microsoft MultiHeadAttention, and MatMul), written as
 * protobuf bytes by hand (no onnx package in Node): query/key/value [B, S, H·D] f32 in,
 * output [B, S, H·D]. Field numbers from onnx.proto3 (ModelProto, GraphProto, NodeProto,
 * AttributeProto, ValueInfoProto, TypeProto.Tensor, TensorShapeProto).
 */
function varint(n: number): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}
const key = (field: number, wire: number): number[] => varint((field << 3) | wire);
const int = (field: number, v: number): number[] => [...key(field, 0), ...varint(v)];
const bytes = (field: number, b: number[]): number[] => [...key(field, 2), ...varint(b.length), ...b];
const str = (field: number, s: string): number[] => bytes(field, [...new TextEncoder().encode(s)]);

/** ValueInfoProto of a float tensor with fixed dims. */
function valueInfo(name: string, dims: number[]): number[] {
  const shape = dims.flatMap((d) => bytes(1, int(1, d))); // TensorShapeProto.dim { dim_value }
  const tensorType = [...int(1, 1 /* FLOAT */), ...bytes(2, shape)];
  return [...str(1, name), ...bytes(2, bytes(1, tensorType))]; // name, type { tensor_type }
}

/** The model bytes for a plain MatMul [M, K] x [K, N] (ai.onnx), the peer of sl.matmul. */
export function matmulModel(M: number, K: number, N: number): Uint8Array {
  const node = [...str(1, "a"), ...str(1, "b"), ...str(2, "c"), ...str(3, "mm"), ...str(4, "MatMul")];
  const graph = [
    ...bytes(1, node), ...str(2, "mm_graph"),
    ...bytes(11, valueInfo("a", [M, K])), ...bytes(11, valueInfo("b", [K, N])),
    ...bytes(12, valueInfo("c", [M, N])),
  ];
  return Uint8Array.from([...int(1, 8), ...str(2, "sparselab-bench"), ...bytes(7, graph), ...bytes(8, [...str(1, ""), ...int(2, 17)])]);
}

/** The model bytes for MultiHeadAttention with `heads` heads over [B, S, hidden]. */
export function mhaModel(B: number, S: number, heads: number, hidden: number): Uint8Array {
  const attr = [...str(1, "num_heads"), ...int(3, heads), ...int(20, 2 /* INT */)];
  const node = [
    ...str(1, "query"), ...str(1, "key"), ...str(1, "value"),
    ...str(2, "output"), ...str(3, "mha"), ...str(4, "MultiHeadAttention"),
    ...bytes(5, attr), ...str(7, "com.microsoft"),
  ];
  const dims = [B, S, hidden];
  const graph = [
    ...bytes(1, node), ...str(2, "mha_graph"),
    ...bytes(11, valueInfo("query", dims)), ...bytes(11, valueInfo("key", dims)), ...bytes(11, valueInfo("value", dims)),
    ...bytes(12, valueInfo("output", dims)),
  ];
  const model = [
    ...int(1, 8), // ir_version
    ...str(2, "sparselab-bench"),
    ...bytes(7, graph),
    ...bytes(8, [...str(1, ""), ...int(2, 17)]), // opset ai.onnx 17
    ...bytes(8, [...str(1, "com.microsoft"), ...int(2, 1)]),
  ];
  return Uint8Array.from(model);
}
