// Writes a DiffusionGraph to disk, pulling each weight from the WeightSource only when its turn comes,
// converting it (transpose, float16) and writing it out before asking for the next: a model larger
// than protobuf's 2 GB limit goes to `model.onnx` + `model.onnx_data` holding one tensor at a time.
import { open, mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';
import { encodeFloat16 } from '@curator/inference/float16';
import { DataType } from './graph.ts';
import type { DiffusionGraph, ParamSpec, ValueSpec } from './diffusion-graph.ts';

const { onnx } = onnxProto;

/** Where a builder gets each tensor, by its checkpoint state-dict name. */
export interface WeightSource {
  /** The tensor as float32 in the checkpoint's own layout (PyTorch Linear: [out, in]); must throw naming the tensor when missing or when its shape differs from `shape`. */
  get(name: string, shape: readonly number[]): Promise<Float32Array>;
}

export interface WriteOptions {
  /**
   * Put weights of at least `threshold` bytes (default 1024) into `file` (default `<model file>_data`)
   * beside the graph, as large exports do; required above 2 GB.
   */
  externalData?: boolean | { file?: string; threshold?: number };
  /** Called after each weight is written. */
  onProgress?: (progress: { written: number; total: number; name: string }) => void;
}

export interface WrittenModel {
  path: string;
  /** The external data file, when one was written. */
  dataPath?: string;
  weights: number;
  weightBytes: number;
}

// onnxruntime maps external data into memory when a tensor starts on a page boundary.
const externalAlignment = 4096;

function valueInfo(v: ValueSpec): InstanceType<typeof onnx.ValueInfoProto> {
  const dim = v.dims.map((d) => (typeof d === 'number' ? onnx.TensorShapeProto.Dimension.create({ dimValue: d }) : onnx.TensorShapeProto.Dimension.create({ dimParam: d })));
  return onnx.ValueInfoProto.create({
    name: v.name,
    type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: v.dataType, shape: onnx.TensorShapeProto.create({ dim }) }) }),
  });
}

function transpose2D(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[row + c]!;
  }
  return out;
}

/** The initializer bytes of one weight: checked, laid out as the graph wants, in the graph's float type. */
async function weightBytes(param: ParamSpec, weights: WeightSource, floatType: number): Promise<Uint8Array> {
  const data = await weights.get(param.name, param.shape);
  const count = param.shape.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw new Error(`${param.name}: the weight source gave ${data.length} values for shape [${param.shape}]`);
  const laidOut = param.transpose ? transpose2D(data, param.shape[0]!, param.shape[1]!) : data;
  if (floatType === DataType.FLOAT16) {
    const half = encodeFloat16(laidOut);
    return new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
  }
  return new Uint8Array(laidOut.buffer, laidOut.byteOffset, laidOut.byteLength);
}

/** Serializes `net` with weights from `weights` to `path` (opset 17). */
export async function writeDiffusionGraph(net: DiffusionGraph, path: string, weights: WeightSource, options: WriteOptions = {}): Promise<WrittenModel> {
  await mkdir(dirname(path), { recursive: true });
  const graph = net.g.toGraphProto();
  graph.input = net.inputs.map(valueInfo);
  graph.output = net.outputs.map(valueInfo);
  const external = options.externalData ? (options.externalData === true ? {} : options.externalData) : null;
  const dataFile = external ? (external.file ?? `${basename(path)}_data`) : null;
  const threshold = external?.threshold ?? 1024;
  const dataPath = dataFile ? join(dirname(path), dataFile) : undefined;
  const handle = dataPath ? await open(dataPath, 'w') : null;
  const params = net.params;
  let offset = 0;
  let total = 0;
  try {
    for (const [index, param] of params.entries()) {
      const bytes = await weightBytes(param, weights, net.floatType);
      total += bytes.byteLength;
      if (handle && dataFile && bytes.byteLength >= threshold) {
        offset = Math.ceil(offset / externalAlignment) * externalAlignment;
        await handle.write(bytes, 0, bytes.byteLength, offset);
        graph.initializer.push(
          onnx.TensorProto.create({
            name: param.name,
            dataType: net.floatType,
            dims: param.dims,
            dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
            externalData: [
              onnx.StringStringEntryProto.create({ key: 'location', value: dataFile }),
              onnx.StringStringEntryProto.create({ key: 'offset', value: String(offset) }),
              onnx.StringStringEntryProto.create({ key: 'length', value: String(bytes.byteLength) }),
            ],
          }),
        );
        offset += bytes.byteLength;
      } else {
        // Copied: the source's buffer may be reused or much larger than this tensor.
        graph.initializer.push(onnx.TensorProto.create({ name: param.name, dataType: net.floatType, dims: param.dims, rawData: bytes.slice() }));
      }
      options.onProgress?.({ written: index + 1, total: params.length, name: param.name });
    }
  } finally {
    await handle?.close();
  }
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'curator',
    producerVersion: '1',
    opsetImport: [
      onnx.OperatorSetIdProto.create({ domain: '', version: 17 }),
      ...[...net.domains].map((domain) => onnx.OperatorSetIdProto.create({ domain, version: 1 })),
    ],
    graph,
  });
  await writeFile(path, onnx.ModelProto.encode(model).finish());
  return { path, ...(dataPath ? { dataPath } : {}), weights: params.length, weightBytes: total };
}
