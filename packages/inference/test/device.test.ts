import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { isCuratorError } from '@curator/contracts';
import { deviceOfProviders, explainCudaFailure, resolveExecutionProviders, sessionOptionsFor } from '../src/device.ts';

function recordingLog() {
  const lines: { level: 'info' | 'warn'; message: string }[] = [];
  return { lines, info: (message: string) => lines.push({ level: 'info', message }), warn: (message: string) => lines.push({ level: 'warn', message }) };
}

// This suite runs on the CPU build of onnxruntime-node (no CUDA provider): that is what it checks.
const cudaWorks = await resolveExecutionProviders({ device: 'auto', deviceId: 0 }).then((choice) => choice.device !== 'cpu');

describe('resolveExecutionProviders', () => {
  it('cpu runs on the CPU provider with fp32 and logs nothing', async () => {
    const log = recordingLog();
    const choice = await resolveExecutionProviders({ device: 'cpu', deviceId: 0, log });
    assert.deepEqual(choice, { device: 'cpu', executionProviders: ['cpu'], preferredPrecision: 'fp32' });
    assert.deepEqual(log.lines, []);
  });

  it('auto falls back to the CPU with one log line that gives the reason', { skip: cudaWorks && 'CUDA works here' }, async () => {
    const log = recordingLog();
    const choice = await resolveExecutionProviders({ device: 'auto', deviceId: 0, log });
    assert.equal(choice.device, 'cpu');
    assert.equal(choice.preferredPrecision, 'fp32');
    assert.ok(choice.fallbackReason && choice.fallbackReason.length > 0);
    assert.equal(log.lines.length, 1);
    assert.equal(log.lines[0]!.level, 'warn');
    assert.ok(log.lines[0]!.message.includes(choice.fallbackReason));
  });

  it('cuda fails loudly with device_unavailable naming what is missing', { skip: cudaWorks && 'CUDA works here' }, async () => {
    await assert.rejects(resolveExecutionProviders({ device: 'cuda', deviceId: 0 }), (error) => {
      assert.ok(isCuratorError(error));
      assert.equal(error.code, 'device_unavailable');
      assert.match(error.message, /cuda:0/);
      assert.match(error.message, /libonnxruntime_providers_cuda|libcudnn|libcublas|libcudart|CUDA provider/);
      return true;
    });
  });

  it('the chosen providers open a real session', async () => {
    const choice = await resolveExecutionProviders({ device: 'auto', deviceId: 0 });
    const { default: onnxProto } = await import('onnx-proto');
    const { onnx } = onnxProto;
    const tensor = { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 2 }] } } };
    const model = onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      graph: { name: 'relu', node: [{ opType: 'Relu', input: ['x'], output: ['y'] }], input: [{ name: 'x', type: tensor }], output: [{ name: 'y', type: tensor }] },
    }).finish();
    const session = await ort.InferenceSession.create(model, sessionOptionsFor({ threads: 1 }, choice));
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([-1, 2]), [2]) });
    assert.deepEqual(Array.from(out['y']!.data as Float32Array), [0, 2]);
    await session.release();
  });
});

describe('explainCudaFailure', () => {
  it('names the CUDA library onnxruntime could not load', () => {
    const message = explainCudaFailure(new Error('Failed to load library libonnxruntime_providers_cuda.so with error: libcudnn.so.9: cannot open shared object file'), false);
    assert.match(message, /libcudnn/);
    assert.match(message, /cuDNN|LD_LIBRARY_PATH/);
  });

  it('says the CUDA provider is not installed when onnxruntime-node is the CPU build', () => {
    const message = explainCudaFailure(new Error('OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library'), false);
    assert.match(message, /ONNXRUNTIME_NODE_INSTALL=cuda12/);
  });
});

describe('sessionOptionsFor', () => {
  it('carries the per-model settings and the device providers', () => {
    const options = sessionOptionsFor({ threads: 2, graphOptimizationLevel: 'basic', enableMemArena: false }, { device: 'cpu', executionProviders: ['cpu'], preferredPrecision: 'fp32' });
    assert.equal(options.intraOpNumThreads, 2);
    assert.equal(options.graphOptimizationLevel, 'basic');
    assert.equal(options.enableCpuMemArena, false);
    assert.deepEqual(options.executionProviders, ['cpu']);
  });

  it('leaves threads to onnxruntime when unset', () => {
    const options = sessionOptionsFor({}, { device: 'cpu', executionProviders: ['cpu'], preferredPrecision: 'fp32' });
    assert.equal(options.intraOpNumThreads, undefined);
    assert.equal(options.graphOptimizationLevel, 'all');
  });
});

describe('deviceOfProviders', () => {
  it('names the device of the first execution provider', () => {
    assert.equal(deviceOfProviders(undefined), 'cpu');
    assert.equal(deviceOfProviders(['cpu']), 'cpu');
    assert.equal(deviceOfProviders(['cuda', 'cpu']), 'cuda:0');
    assert.equal(deviceOfProviders([{ name: 'cuda', deviceId: 2 }, 'cpu']), 'cuda:2');
    assert.equal(deviceOfProviders(['dml']), 'dml');
  });
});
