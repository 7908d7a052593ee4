// Streams an ONNX model to disk one weight at a time. Every length in the protobuf is known before a
// weight is loaded (a tensor's byte length follows from its dims and type), so the file is written
// front to back: the model header, the graph's nodes, then each initializer as it is produced, then
// the graph's inputs and outputs. Peak memory is the graph's nodes plus about one tensor.
//
// The bytes are exactly what onnx-proto's in-memory encoder would produce (fields in field-number
// order: GraphProto node 1, name 2, initializer 5, input 11, output 12; ModelProto graph 7 before
// opset_import 8), so the two can be compared byte for byte.
import { open, mkdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** An initializer: bytes now, or a loader called once when the model is written. */
export interface PendingInitializer {
  name: string;
  dataType: number;
  dims: number[];
  /** Byte length of the raw data (known before loading). */
  byteLength: number;
  bytes?: Uint8Array;
  load?: () => Promise<Uint8Array>;
}

/** What a GraphBuilder hands the writer. */
export interface ModelParts {
  name: string;
  nodes: InstanceType<typeof onnx.NodeProto>[];
  inputs: InstanceType<typeof onnx.ValueInfoProto>[];
  outputs: InstanceType<typeof onnx.ValueInfoProto>[];
  initializers: PendingInitializer[];
}

export interface WriteModelOptions {
  opset?: number;
  producer?: string;
  /**
   * Weights go to an external data file when the whole model would be larger than this many bytes.
   * Default: protobuf's limit (2 GiB - 1), above which onnxruntime cannot parse a model.
   */
  externalDataAbove?: number;
  /** Always use external data (`file`, default `<model file>_data`), for tensors of at least `minTensorBytes` (default 1024). */
  externalData?: { file?: string; minTensorBytes?: number };
  /** Called after each initializer is written. */
  onProgress?: (progress: { written: number; total: number; name: string; bytes: number }) => void;
}

export interface WrittenModel {
  path: string;
  /** The external data file, when one was written. */
  dataPath?: string;
  /** Bytes of the .onnx file. */
  bytes: number;
  /** Bytes of all initializers (inline and external). */
  weightBytes: number;
  initializers: number;
}

/** protobuf's hard limit on a message: onnxruntime refuses a larger .onnx file. */
export const protobufLimit = 2 ** 31 - 1;

// onnxruntime can map external data into memory when a tensor starts on a page boundary.
const externalAlignment = 4096;
const defaultMinExternalBytes = 1024;

const WIRE_LENGTH_DELIMITED = 2;
const GRAPH_FIELD = 7; // ModelProto.graph
const INITIALIZER_FIELD = 5; // GraphProto.initializer
const RAW_DATA_FIELD = 9; // TensorProto.raw_data

function varintLength(value: number): number {
  let length = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    length++;
  }
  return length;
}

function varint(value: number): Uint8Array {
  const out = new Uint8Array(varintLength(value));
  let i = 0;
  while (value >= 128) {
    out[i++] = (value % 128) | 128;
    value = Math.floor(value / 128);
  }
  out[i] = value;
  return out;
}

function tag(field: number): number {
  return (field << 3) | WIRE_LENGTH_DELIMITED;
}

/** Bytes of a length-delimited field: tag, length, then `length` bytes of content follow. */
function fieldHeader(field: number, length: number): Uint8Array {
  const lengthBytes = varint(length);
  const out = new Uint8Array(1 + lengthBytes.length);
  out[0] = tag(field);
  out.set(lengthBytes, 1);
  return out;
}

function fieldLength(contentLength: number): number {
  return 1 + varintLength(contentLength) + contentLength;
}

interface PlannedInitializer {
  source: PendingInitializer;
  /** The TensorProto without raw_data (dims, data_type, name; or the external_data reference). */
  header: Uint8Array;
  /** Whether the raw bytes follow inline as raw_data. */
  inline: boolean;
  tensorLength: number;
  external?: { offset: number };
}

interface Plan {
  modelHead: Uint8Array;
  modelTail: Uint8Array;
  graphHead: Uint8Array;
  graphTail: Uint8Array;
  initializers: PlannedInitializer[];
  graphLength: number;
  fileLength: number;
}

/** The default opset, plus version 1 of every other operator domain the nodes use (onnxruntime's com.microsoft contrib ops). */
function opsetImports(parts: Pick<ModelParts, 'nodes'>, options: Pick<WriteModelOptions, 'opset'>): InstanceType<typeof onnx.OperatorSetIdProto>[] {
  const domains = [...new Set(parts.nodes.map((n) => n.domain ?? '').filter((d) => d !== ''))].sort();
  return [onnx.OperatorSetIdProto.create({ domain: '', version: options.opset ?? 17 }), ...domains.map((domain) => onnx.OperatorSetIdProto.create({ domain, version: 1 }))];
}

function modelPieces(parts: ModelParts, options: WriteModelOptions): { head: Uint8Array; tail: Uint8Array } {
  const head = onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, producerName: options.producer ?? 'curator', producerVersion: '1' })).finish();
  const tail = onnx.ModelProto.encode(onnx.ModelProto.create({ opsetImport: opsetImports(parts, options) })).finish();
  return { head, tail };
}

function plan(parts: ModelParts, options: WriteModelOptions, external: { file: string; minTensorBytes: number } | null): Plan {
  const { head: modelHead, tail: modelTail } = modelPieces(parts, options);
  const graphHead = onnx.GraphProto.encode(onnx.GraphProto.create({ node: parts.nodes, name: parts.name })).finish();
  const graphTail = onnx.GraphProto.encode(onnx.GraphProto.create({ input: parts.inputs, output: parts.outputs })).finish();
  let offset = 0;
  const initializers = parts.initializers.map((source): PlannedInitializer => {
    if (external && source.byteLength >= external.minTensorBytes) {
      offset = Math.ceil(offset / externalAlignment) * externalAlignment;
      const at = offset;
      offset += source.byteLength;
      const header = onnx.TensorProto.encode(
        onnx.TensorProto.create({
          name: source.name,
          dataType: source.dataType,
          dims: source.dims,
          dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: [
            onnx.StringStringEntryProto.create({ key: 'location', value: external.file }),
            onnx.StringStringEntryProto.create({ key: 'offset', value: String(at) }),
            onnx.StringStringEntryProto.create({ key: 'length', value: String(source.byteLength) }),
          ],
        }),
      ).finish();
      return { source, header, inline: false, tensorLength: header.length, external: { offset: at } };
    }
    const header = onnx.TensorProto.encode(onnx.TensorProto.create({ name: source.name, dataType: source.dataType, dims: source.dims })).finish();
    return { source, header, inline: true, tensorLength: header.length + fieldLength(source.byteLength) };
  });
  const graphLength = graphHead.length + initializers.reduce((sum, i) => sum + fieldLength(i.tensorLength), 0) + graphTail.length;
  const fileLength = modelHead.length + fieldLength(graphLength) + modelTail.length;
  return { modelHead, modelTail, graphHead, graphTail, initializers, graphLength, fileLength };
}

async function initializerBytes(init: PendingInitializer): Promise<Uint8Array> {
  const bytes = init.bytes ?? (await init.load!());
  if (bytes.byteLength !== init.byteLength) throw new Error(`${init.name}: ${bytes.byteLength} bytes where [${init.dims}] needs ${init.byteLength}`);
  return bytes;
}

/** Sequential writes through a small buffer, so many tiny protobuf pieces become few syscalls. */
class BufferedFile {
  private readonly handle: FileHandle;
  private readonly buffer = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  written = 0;
  constructor(handle: FileHandle) {
    this.handle = handle;
  }
  async write(bytes: Uint8Array): Promise<void> {
    if (bytes.byteLength >= this.buffer.length) {
      await this.flush();
      await this.writeAll(bytes);
      return;
    }
    if (this.used + bytes.byteLength > this.buffer.length) await this.flush();
    this.buffer.set(bytes, this.used);
    this.used += bytes.byteLength;
    this.written += bytes.byteLength;
  }
  async flush(): Promise<void> {
    if (this.used === 0) return;
    const pending = this.used;
    this.used = 0;
    let done = 0;
    while (done < pending) done += (await this.handle.write(this.buffer, done, pending - done)).bytesWritten;
  }
  private async writeAll(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.byteLength) done += (await this.handle.write(bytes, done, bytes.byteLength - done)).bytesWritten;
    this.written += bytes.byteLength;
  }
}

/**
 * Writes `parts` to `path` (and `<file>_data` when weights go external), loading each lazy weight
 * only when its turn comes. Files appear under their names only when complete.
 */
export async function writeModel(parts: ModelParts, path: string, options: WriteModelOptions = {}): Promise<WrittenModel> {
  await mkdir(dirname(path), { recursive: true });
  const dataFile = options.externalData?.file ?? `${basename(path)}_data`;
  const minTensorBytes = options.externalData?.minTensorBytes ?? defaultMinExternalBytes;
  let layout = plan(parts, options, options.externalData ? { file: dataFile, minTensorBytes } : null);
  if (!options.externalData && layout.fileLength > (options.externalDataAbove ?? protobufLimit)) layout = plan(parts, options, { file: dataFile, minTensorBytes });
  if (layout.fileLength > protobufLimit) throw new Error(`${path}: the graph alone is ${layout.fileLength} bytes, over protobuf's 2 GB limit`);
  const usesExternal = layout.initializers.some((i) => !i.inline);
  const dataPath = usesExternal ? join(dirname(path), dataFile) : undefined;
  const partialPath = `${path}.partial`;
  const partialDataPath = dataPath ? `${dataPath}.partial` : undefined;
  const handle = await open(partialPath, 'w');
  const dataHandle = partialDataPath ? await open(partialDataPath, 'w') : undefined;
  let weightBytes = 0;
  try {
    const out = new BufferedFile(handle);
    await out.write(layout.modelHead);
    await out.write(fieldHeader(GRAPH_FIELD, layout.graphLength));
    await out.write(layout.graphHead);
    for (const [index, init] of layout.initializers.entries()) {
      await out.write(fieldHeader(INITIALIZER_FIELD, init.tensorLength));
      await out.write(init.header);
      const bytes = await initializerBytes(init.source);
      if (init.inline) {
        await out.write(fieldHeader(RAW_DATA_FIELD, bytes.byteLength));
        await out.write(bytes);
      } else {
        let done = 0;
        while (done < bytes.byteLength) done += (await dataHandle!.write(bytes, done, bytes.byteLength - done, init.external!.offset + done)).bytesWritten;
      }
      weightBytes += init.source.byteLength;
      options.onProgress?.({ written: index + 1, total: layout.initializers.length, name: init.source.name, bytes: init.source.byteLength });
    }
    await out.write(layout.graphTail);
    await out.write(layout.modelTail);
    await out.flush();
    if (out.written !== layout.fileLength) throw new Error(`${path}: wrote ${out.written} bytes, planned ${layout.fileLength}`);
    await handle.close();
    await dataHandle?.close();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await dataHandle?.close().catch(() => undefined);
    await rm(partialPath, { force: true });
    if (partialDataPath) await rm(partialDataPath, { force: true });
    throw error;
  }
  if (partialDataPath && dataPath) await rename(partialDataPath, dataPath);
  await rename(partialPath, path);
  return { path, ...(dataPath ? { dataPath } : {}), bytes: layout.fileLength, weightBytes, initializers: layout.initializers.length };
}

/** The same model encoded in memory by onnx-proto, every weight loaded: for tests and small models. */
export async function encodeModelInMemory(parts: ModelParts, options: Pick<WriteModelOptions, 'opset' | 'producer'> = {}): Promise<Uint8Array> {
  const initializer: InstanceType<typeof onnx.TensorProto>[] = [];
  for (const init of parts.initializers) {
    initializer.push(onnx.TensorProto.create({ name: init.name, dataType: init.dataType, dims: init.dims, rawData: await initializerBytes(init) }));
  }
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: options.producer ?? 'curator',
    producerVersion: '1',
    opsetImport: opsetImports(parts, options),
    graph: onnx.GraphProto.create({ node: parts.nodes, name: parts.name, initializer, input: parts.inputs, output: parts.outputs }),
  });
  return onnx.ModelProto.encode(model).finish();
}
