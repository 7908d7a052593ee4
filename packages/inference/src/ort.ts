// onnxruntime-node 1.30 under Node 24: onnxruntime-common wraps float16 tensor data in the new global
// Float16Array, which the native binding does not recognise (it reads 0 bytes and `run()` fails with
// "not enough space"). Without the global, float16 tensors carry their bits in a Uint16Array, which the
// binding handles. Only inference threads import this module, so nothing else loses Float16Array.
Reflect.deleteProperty(globalThis, 'Float16Array');

export * from 'onnxruntime-node';
export { default } from 'onnxruntime-node';
