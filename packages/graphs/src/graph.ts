import onnxProto from 'onnx-proto';
import { encodeFloat16 } from '@curator/inference/float16';
import { writeModel, encodeModelInMemory, type ModelParts, type PendingInitializer, type WriteModelOptions, type WrittenModel } from './writer.ts';

const { onnx } = onnxProto;

/** ONNX TensorProto.DataType values used by Curator's models. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10 } as const;
/** `float` is the graph's float type (float16 in fp16-compute graphs); `float32`/`float16` are explicit. */
export type ElementType = 'float' | 'float32' | 'float16' | 'int64' | 'int32' | 'bool';
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

type Initializer = PendingInitializer;

interface ValueInfo {
  name: string;
  dataType: number;
  dims: Dim[];
}

const bytesPerElement: Record<number, number> = { [DataType.FLOAT]: 4, [DataType.FLOAT16]: 2 };

function elementDataType(type: ElementType, precision: Precision): number {
  switch (type) {
    case 'float':
      return precision === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
    case 'float32':
      return DataType.FLOAT;
    case 'float16':
      return DataType.FLOAT16;
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
    case 'float32':
      return new Uint8Array(Float32Array.from(data as ArrayLike<number>).buffer);
    case 'float16':
      return new Uint8Array(toFloat16Array(data as ArrayLike<number>).buffer);
    case 'int64':
      return new Uint8Array(BigInt64Array.from(Array.from(data as ArrayLike<number | bigint>, (v) => BigInt(v))).buffer);
    case 'int32':
      return new Uint8Array(Int32Array.from(data as ArrayLike<number>).buffer);
    case 'bool':
      return Uint8Array.from(data as ArrayLike<number>, (v) => (v ? 1 : 0));
  }
}

/** Float bytes of `values` in `dataType` (FLOAT or FLOAT16), little-endian. */
export function floatBytes(values: ArrayLike<number>, dataType: number): Uint8Array {
  if (dataType === DataType.FLOAT16) {
    const half = toFloat16Array(values);
    return new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
  }
  const single = values instanceof Float32Array ? values : Float32Array.from(values);
  return new Uint8Array(single.buffer, single.byteOffset, single.byteLength);
}

export interface GraphBuilderOptions {
  /** Storage and I/O type of float weights, inputs and outputs. */
  precision?: Precision;
  /**
   * Type the arithmetic runs in. `fp32` (the default): an fp16 graph casts its weights and inputs
   * up to float32 and its outputs back down. `fp16` (only with precision fp16): float values stay
   * float16 end to end; `float` constants are float16 and builders mark float32 islands themselves
   * (`toFloat32`/`fromFloat32`).
   */
  compute?: Precision;
  prefix?: string;
}

/**
 * Builds an ONNX graph node by node. Values are referred to by name; every helper returns the
 * name of what it produced. With `precision: 'fp16'` float weights are stored as float16 and
 * float graph inputs/outputs are float16 (as in real fp16 exports); by default the arithmetic
 * inside runs in float32 after a Cast, with `compute: 'fp16'` it runs in float16.
 * Weights may be lazy (`lazyWeight`): their bytes are produced only when the model is written,
 * one tensor at a time (see writer.ts).
 */
export class GraphBuilder {
  readonly name: string;
  readonly precision: Precision;
  readonly compute: Precision;
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly used = new Set<string>();
  private counter = 0;
  private readonly prefix: string;

  constructor(name: string, options: GraphBuilderOptions = {}) {
    this.name = name;
    this.precision = options.precision ?? 'fp32';
    this.compute = options.compute ?? 'fp32';
    if (this.compute === 'fp16' && this.precision !== 'fp16') throw new Error('compute fp16 needs precision fp16');
    this.prefix = options.prefix ?? '';
  }

  /** ONNX element type the arithmetic runs in (FLOAT, or FLOAT16 with `compute: 'fp16'`). */
  get floatType(): number {
    return this.compute === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
  }

  /** `value` (in the compute type) as float32: a Cast in fp16-compute graphs, else itself. */
  toFloat32(value: string): string {
    return this.compute === 'fp16' ? this.cast(value, DataType.FLOAT) : value;
  }

  /** `value` (float32) back in the compute type. */
  fromFloat32(value: string): string {
    return this.compute === 'fp16' ? this.cast(value, DataType.FLOAT16) : value;
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
    if (type === 'float' && this.precision === 'fp16' && this.compute === 'fp32') return this.cast(name, DataType.FLOAT);
    return name;
  }

  /** Declares `value` as graph output `name` (cast to float16 for fp16 float outputs). */
  output(name: string, type: ElementType, dims: Dim[], value: string): void {
    const dataType = elementDataType(type, this.precision);
    const source = type === 'float' && this.precision === 'fp16' && this.compute === 'fp32' ? this.cast(value, DataType.FLOAT16) : value;
    this.nodes.push(onnx.NodeProto.create({ opType: 'Identity', input: [source], output: [name], name: this.fresh('out') }));
    this.used.add(name);
    this.outputs.push({ name, dataType, dims });
  }

  /** A float weight; stored as float16 in fp16 graphs (and cast up where used unless computing in fp16). */
  weight(name: string, data: ArrayLike<number>, dims: number[]): string {
    const dataType = this.precision === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
    const bytes = dataType === DataType.FLOAT16 ? floatBytes(data, dataType) : bytesOf('float', data);
    this.initializers.push({ name, dataType, dims, byteLength: bytes.byteLength, bytes });
    this.used.add(name);
    return this.afterWeight(name, dataType);
  }

  /**
   * A float weight whose values are produced only when the model is written (`load` is called once
   * per write, then dropped). Stored as float16 in fp16 graphs unless `float32` is set (a float32
   * island, e.g. T5's `wo`). Returns the value to use in the compute type, or float32 for `float32`.
   */
  lazyWeight(name: string, dims: number[], load: () => Promise<ArrayLike<number>> | ArrayLike<number>, options: { float32?: boolean } = {}): string {
    const dataType = this.precision === 'fp16' && !options.float32 ? DataType.FLOAT16 : DataType.FLOAT;
    const count = dims.reduce((a, b) => a * b, 1);
    this.initializers.push({
      name,
      dataType,
      dims,
      byteLength: count * bytesPerElement[dataType]!,
      load: async () => {
        const values = await load();
        if (values.length !== count) throw new Error(`${name}: got ${values.length} values for [${dims}]`);
        return floatBytes(values, dataType);
      },
    });
    this.used.add(name);
    return options.float32 ? name : this.afterWeight(name, dataType);
  }

  private afterWeight(name: string, dataType: number): string {
    return dataType === DataType.FLOAT16 && this.compute === 'fp32' ? this.cast(name, DataType.FLOAT) : name;
  }

  /** A constant that is never converted (shapes, axes, indices, masks); `float` ones are in the compute type. */
  constant(type: ElementType, data: ArrayLike<number> | ArrayLike<bigint>, dims: number[], hint = 'const'): string {
    const name = this.fresh(hint);
    const stored: ElementType = type === 'float' && this.compute === 'fp16' ? 'float16' : type;
    const bytes = bytesOf(stored, data);
    this.initializers.push({ name, dataType: elementDataType(stored, 'fp32'), dims, byteLength: bytes.byteLength, bytes });
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
    const sub = new GraphBuilder(name, { precision: this.precision, compute: this.compute, prefix: `${this.prefix}${name}/` });
    return sub;
  }

  /** The pieces the writer streams: nodes, I/O and initializers (lazy ones not yet loaded). */
  parts(): ModelParts {
    return { name: this.name, nodes: this.nodes, inputs: this.inputs.map(toValueInfo), outputs: this.outputs.map(toValueInfo), initializers: this.initializers };
  }

  /** The GraphProto; initializers larger than `externalThreshold` bytes go to `external`. */
  toGraphProto(external?: { file: string; threshold: number; chunks: Uint8Array[]; offset: { value: number } }): InstanceType<typeof onnx.GraphProto> {
    const initializer = this.initializers.map((init) => {
      if (!init.bytes) throw new Error(`${this.name}: ${init.name} is a lazy weight; write the model with save() or writeModel()`);
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

  /** Serializes a model (opset 17, IR 8) in memory; only for graphs without lazy weights (see `encode`). */
  toModel(options: { opset?: number; producer?: string } = {}): Uint8Array {
    return encodeModel(this.toGraphProto(), options);
  }

  /** The whole model in memory, lazy weights loaded: for tests and small models. */
  encode(options: { opset?: number; producer?: string } = {}): Promise<Uint8Array> {
    return encodeModelInMemory(this.parts(), options);
  }

  /**
   * Writes the model to `path`, streamed one weight at a time (see writer.ts). With `externalData`,
   * initializers of at least `threshold` bytes go to a side file (e.g. `model.onnx_data`) like large
   * real exports; without it they do only when the model would pass protobuf's 2 GB limit
   * (`externalDataAbove`).
   */
  async save(
    path: string,
    options: { opset?: number; producer?: string; externalData?: { file?: string; threshold?: number }; externalDataAbove?: number; onProgress?: WriteModelOptions['onProgress'] } = {},
  ): Promise<WrittenModel> {
    const { externalData, ...rest } = options;
    return writeModel(this.parts(), path, {
      ...rest,
      ...(externalData ? { externalData: { file: externalData.file, minTensorBytes: externalData.threshold ?? 1024 } } : {}),
    });
  }
}

function toValueInfo(v: ValueInfo): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
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
        t: onnx.TensorProto.create({ dataType: elementDataType(value.value.type === 'float' ? 'float32' : value.value.type, 'fp32'), dims: value.value.dims, rawData: bytesOf(value.value.type, value.value.data) }),
      });
  }
}
