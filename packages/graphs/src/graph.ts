import { writeFile, mkdir } from 'node:fs/promises';
import { dirname, basename } from 'node:path';
import onnxProto from 'onnx-proto';
import { encodeFloat16 } from '@curator/inference/float16';

const { onnx } = onnxProto;

/** ONNX TensorProto.DataType values used by Curator's models. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10 } as const;
export type ElementType = 'float' | 'int64' | 'int32' | 'bool';
export type Dim = number | string;
export type Precision = 'fp32' | 'fp16';

type AttributeValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'string'; value: string }
  | { kind: 'graph'; value: GraphBuilder }
  | { kind: 'tensor'; value: { type: ElementType; data: ArrayLike<number> | ArrayLike<bigint>; dims: number[] } };

/** Typed attribute constructors: ONNX tells ints from floats, JavaScript does not. */
export const attr = {
  int: (value: number): AttributeValue => ({ kind: 'int', value }),
  float: (value: number): AttributeValue => ({ kind: 'float', value }),
  ints: (value: number[]): AttributeValue => ({ kind: 'ints', value }),
  floats: (value: number[]): AttributeValue => ({ kind: 'floats', value }),
  string: (value: string): AttributeValue => ({ kind: 'string', value }),
  graph: (value: GraphBuilder): AttributeValue => ({ kind: 'graph', value }),
  tensor: (type: ElementType, data: ArrayLike<number> | ArrayLike<bigint>, dims: number[]): AttributeValue => ({ kind: 'tensor', value: { type, data, dims } }),
};

export { float32ToFloat16Bits, float16BitsToFloat32 } from '@curator/inference/float16';

export function toFloat16Array(values: ArrayLike<number>): Uint16Array {
  return encodeFloat16(values);
}

interface Initializer {
  name: string;
  dataType: number;
  dims: number[];
  bytes: Uint8Array;
}

interface ValueInfo {
  name: string;
  dataType: number;
  dims: Dim[];
}

function elementDataType(type: ElementType, precision: Precision): number {
  switch (type) {
    case 'float':
      return precision === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
    case 'int64':
      return DataType.INT64;
    case 'int32':
      return DataType.INT32;
    case 'bool':
      return DataType.BOOL;
  }
}

function bytesOf(type: ElementType, data: ArrayLike<number> | ArrayLike<bigint>): Uint8Array {
  switch (type) {
    case 'float':
      return new Uint8Array(Float32Array.from(data as ArrayLike<number>).buffer);
    case 'int64':
      return new Uint8Array(BigInt64Array.from(Array.from(data as ArrayLike<number | bigint>, (v) => BigInt(v))).buffer);
    case 'int32':
      return new Uint8Array(Int32Array.from(data as ArrayLike<number>).buffer);
    case 'bool':
      return Uint8Array.from(data as ArrayLike<number>, (v) => (v ? 1 : 0));
  }
}

/**
 * Builds an ONNX graph node by node. Values are referred to by name; every helper returns the
 * name of what it produced. With `precision: 'fp16'` float weights are stored as float16 and
 * float graph inputs/outputs are float16 (as in real fp16 exports) while the arithmetic inside runs
 * in float32 after a Cast: ONNX Runtime's CPU provider lacks float16 kernels for several ops.
 */
export class GraphBuilder {
  readonly name: string;
  readonly precision: Precision;
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly used = new Set<string>();
  private counter = 0;
  private readonly prefix: string;

  constructor(name: string, options: { precision?: Precision; prefix?: string } = {}) {
    this.name = name;
    this.precision = options.precision ?? 'fp32';
    this.prefix = options.prefix ?? '';
  }

  /** A fresh value name. */
  fresh(hint = 'v'): string {
    let name: string;
    do name = `${this.prefix}${hint}_${this.counter++}`;
    while (this.used.has(name));
    this.used.add(name);
    return name;
  }

  /** Declares a graph input; a float input of an fp16 graph is cast to float32 and that name returned. */
  input(name: string, type: ElementType, dims: Dim[]): string {
    this.used.add(name);
    const dataType = elementDataType(type, this.precision);
    this.inputs.push({ name, dataType, dims });
    if (type === 'float' && this.precision === 'fp16') return this.cast(name, DataType.FLOAT);
    return name;
  }

  /** Declares `value` as graph output `name` (cast to float16 for fp16 float outputs). */
  output(name: string, type: ElementType, dims: Dim[], value: string): void {
    const dataType = elementDataType(type, this.precision);
    const source = type === 'float' && this.precision === 'fp16' ? this.cast(value, DataType.FLOAT16) : value;
    this.nodes.push(onnx.NodeProto.create({ opType: 'Identity', input: [source], output: [name], name: this.fresh('out') }));
    this.used.add(name);
    this.outputs.push({ name, dataType, dims });
  }

  /** A float weight; stored as float16 in fp16 graphs and cast up where used. */
  weight(name: string, data: ArrayLike<number>, dims: number[]): string {
    if (this.precision === 'fp16') {
      const half = toFloat16Array(data);
      this.initializers.push({ name, dataType: DataType.FLOAT16, dims, bytes: new Uint8Array(half.buffer) });
      this.used.add(name);
      return this.cast(name, DataType.FLOAT);
    }
    this.initializers.push({ name, dataType: DataType.FLOAT, dims, bytes: bytesOf('float', data) });
    this.used.add(name);
    return name;
  }

  /** A constant that is never converted (shapes, axes, indices, masks). */
  constant(type: ElementType, data: ArrayLike<number> | ArrayLike<bigint>, dims: number[], hint = 'const'): string {
    const name = this.fresh(hint);
    this.initializers.push({ name, dataType: elementDataType(type, 'fp32'), dims, bytes: bytesOf(type, data) });
    return name;
  }

  int64s(values: number[], hint = 'i64'): string {
    return this.constant('int64', values, [values.length], hint);
  }

  scalar(value: number, hint = 'scalar'): string {
    return this.constant('float', [value], [], hint);
  }

  /** Adds a node and returns its output names. */
  node(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, outputs: number | string[] = 1, domain = ''): string[] {
    const outputNames = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase())) : outputs;
    for (const o of outputNames) this.used.add(o);
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        domain,
        input: inputs,
        output: outputNames,
        name: this.fresh(`n_${opType}`),
        attribute: Object.entries(attributes).map(([key, value]) => encodeAttribute(key, value)),
      }),
    );
    return outputNames;
  }

  /** Adds a single-output node. */
  op(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}): string {
    return this.node(opType, inputs, attributes, 1)[0]!;
  }

  cast(value: string, to: number): string {
    return this.op('Cast', [value], { to: attr.int(to) });
  }

  /** A subgraph (for If/Loop bodies); names stay unique within the parent's namespace. */
  subgraph(name: string): GraphBuilder {
    const sub = new GraphBuilder(name, { precision: this.precision, prefix: `${this.prefix}${name}/` });
    return sub;
  }

  /** The GraphProto; initializers larger than `externalThreshold` bytes go to `external`. */
  toGraphProto(external?: { file: string; threshold: number; chunks: Uint8Array[]; offset: { value: number } }): InstanceType<typeof onnx.GraphProto> {
    const toValueInfo = (v: ValueInfo) =>
      onnx.ValueInfoProto.create({
        name: v.name,
        type: onnx.TypeProto.create({
          tensorType: onnx.TypeProto.Tensor.create({
            elemType: v.dataType,
            shape: onnx.TensorShapeProto.create({
              dim: v.dims.map((d) => (typeof d === 'number' ? onnx.TensorShapeProto.Dimension.create({ dimValue: d }) : onnx.TensorShapeProto.Dimension.create({ dimParam: d }))),
            }),
          }),
        }),
      });
    const initializer = this.initializers.map((init) => {
      if (external && init.bytes.byteLength >= external.threshold) {
        const offset = external.offset.value;
        external.chunks.push(init.bytes);
        external.offset.value += init.bytes.byteLength;
        return onnx.TensorProto.create({
          name: init.name,
          dataType: init.dataType,
          dims: init.dims,
          dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: [
            onnx.StringStringEntryProto.create({ key: 'location', value: external.file }),
            onnx.StringStringEntryProto.create({ key: 'offset', value: String(offset) }),
            onnx.StringStringEntryProto.create({ key: 'length', value: String(init.bytes.byteLength) }),
          ],
        });
      }
      return onnx.TensorProto.create({ name: init.name, dataType: init.dataType, dims: init.dims, rawData: init.bytes });
    });
    return onnx.GraphProto.create({
      name: this.name,
      node: this.nodes,
      initializer,
      input: this.inputs.map(toValueInfo),
      output: this.outputs.map(toValueInfo),
    });
  }

  /** Serializes a model (opset 17, IR 8). */
  toModel(options: { opset?: number; producer?: string } = {}): Uint8Array {
    return encodeModel(this.toGraphProto(), options);
  }

  /**
   * Writes the model to `path`. With `externalData`, initializers of at least `threshold` bytes
   * are written to a side file (e.g. `model.onnx_data`) like large real exports.
   */
  async save(path: string, options: { opset?: number; producer?: string; externalData?: { file?: string; threshold?: number } } = {}): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    if (!options.externalData) {
      await writeFile(path, this.toModel(options));
      return;
    }
    const file = options.externalData.file ?? `${basename(path)}_data`;
    const external = { file, threshold: options.externalData.threshold ?? 1024, chunks: [] as Uint8Array[], offset: { value: 0 } };
    const graph = this.toGraphProto(external);
    await writeFile(path, encodeModel(graph, options));
    await writeFile(`${dirname(path)}/${file}`, Buffer.concat(external.chunks));
  }
}

function encodeModel(graph: InstanceType<typeof onnx.GraphProto>, options: { opset?: number; producer?: string }): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: options.producer ?? 'curator',
    producerVersion: '1',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: options.opset ?? 17 })],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

function encodeAttribute(name: string, value: AttributeValue): InstanceType<typeof onnx.AttributeProto> {
  const T = onnx.AttributeProto.AttributeType;
  switch (value.kind) {
    case 'int':
      return onnx.AttributeProto.create({ name, type: T.INT, i: value.value });
    case 'float':
      return onnx.AttributeProto.create({ name, type: T.FLOAT, f: value.value });
    case 'ints':
      return onnx.AttributeProto.create({ name, type: T.INTS, ints: value.value });
    case 'floats':
      return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: value.value });
    case 'string':
      return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(value.value) });
    case 'graph':
      return onnx.AttributeProto.create({ name, type: T.GRAPH, g: value.value.toGraphProto() });
    case 'tensor':
      return onnx.AttributeProto.create({
        name,
        type: T.TENSOR,
        t: onnx.TensorProto.create({ dataType: elementDataType(value.value.type, 'fp32'), dims: value.value.dims, rawData: bytesOf(value.value.type, value.value.data) }),
      });
  }
}
