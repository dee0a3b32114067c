import { ProtoWriter } from './protobuf-writer.js';

/**
 * Writes ONNX ModelProto bytes for small graphs, following onnx.proto3 field numbers. Only what our
 * models use is covered: float/int64 tensors, ints/float/int attributes, dynamic batch dimensions.
 */

export const TensorType = { FLOAT: 1, INT64: 7 } as const;
export type TensorTypeCode = (typeof TensorType)[keyof typeof TensorType];

export interface TensorInit {
  readonly name: string;
  readonly dims: readonly number[];
  readonly type: TensorTypeCode;
  readonly data: Float32Array | BigInt64Array;
}

export type AttributeValue = { readonly kind: 'int'; readonly value: number } | { readonly kind: 'float'; readonly value: number } | { readonly kind: 'ints'; readonly value: readonly number[] };

export interface NodeDef {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name: string;
  readonly attributes?: Readonly<Record<string, AttributeValue>>;
}

export interface ValueInfo {
  readonly name: string;
  readonly type: TensorTypeCode;
  /** A number is a fixed size; a string a symbolic (dynamic) dimension such as "batch". */
  readonly shape: readonly (number | string)[];
}

export interface GraphDef {
  readonly name: string;
  readonly nodes: readonly NodeDef[];
  readonly initializers: readonly TensorInit[];
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
}

export interface ModelDef {
  readonly graph: GraphDef;
  readonly opsetVersion: number;
  readonly producerName: string;
  readonly producerVersion: string;
  readonly docString?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** IR version 8 (ONNX 1.10+): understood by every onnxruntime release we support. */
const IR_VERSION = 8;

export function encodeModel(model: ModelDef): Uint8Array {
  const w = new ProtoWriter();
  w.varint(1, IR_VERSION);
  w.string(2, model.producerName);
  w.string(3, model.producerVersion);
  if (model.docString) w.string(6, model.docString);
  w.message(7, (g) => encodeGraph(g, model.graph));
  w.message(8, (o) => o.string(1, '').varint(2, model.opsetVersion));
  for (const [key, value] of Object.entries(model.metadata ?? {})) w.message(14, (e) => e.string(1, key).string(2, value));
  return w.finish();
}

function encodeGraph(w: ProtoWriter, graph: GraphDef): void {
  for (const node of graph.nodes) w.message(1, (n) => encodeNode(n, node));
  w.string(2, graph.name);
  for (const t of graph.initializers) w.message(5, (m) => encodeTensor(m, t));
  for (const v of graph.inputs) w.message(11, (m) => encodeValueInfo(m, v));
  for (const v of graph.outputs) w.message(12, (m) => encodeValueInfo(m, v));
}

function encodeNode(w: ProtoWriter, node: NodeDef): void {
  for (const i of node.inputs) w.string(1, i);
  for (const o of node.outputs) w.string(2, o);
  w.string(3, node.name);
  w.string(4, node.opType);
  for (const [name, attr] of Object.entries(node.attributes ?? {})) {
    w.message(5, (a) => {
      a.string(1, name);
      switch (attr.kind) {
        case 'float':
          a.float(2, attr.value).varint(20, 1);
          break;
        case 'int':
          a.varint(3, attr.value).varint(20, 2);
          break;
        case 'ints':
          for (const v of attr.value) a.varint(8, v);
          a.varint(20, 7);
          break;
      }
    });
  }
}

function encodeTensor(w: ProtoWriter, t: TensorInit): void {
  const expected = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== expected) throw new RangeError(`tensor ${t.name}: ${t.data.length} values for dims [${t.dims.join(', ')}]`);
  for (const d of t.dims) w.varint(1, d);
  w.varint(2, t.type);
  w.string(8, t.name);
  // raw_data is little-endian; typed arrays are little-endian on every platform Node runs on.
  w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

function encodeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.varint(1, v.type);
      tensor.message(2, (shape) => {
        for (const d of v.shape) shape.message(1, (dim) => (typeof d === 'number' ? dim.varint(1, d) : dim.string(2, d)));
      });
    }),
  );
}
