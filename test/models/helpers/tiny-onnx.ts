// Small ONNX models for tests of dtypes and ops the fixtures do not have (fp16 weights, Gemm).
export { buildModel, type BuildNode as TinyNode, type BuildTensor as TinyTensor } from '../../../server/models/onnx-build.js';
