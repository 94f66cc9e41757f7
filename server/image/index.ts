// The image library in one import: decoding/encoding under limits, SSRF-safe fetching,
// masks, compositing, crops, fills and model tensors. Everything here is pure (no ctx).
export type { RgbImage, ImageBatch, Mask, CropRegion } from './types.js';
export { decodeImage, decodeMask, encodeImage, encodePreview, sharpFromImage, CONTENT_TYPES, SUPPORTED_INPUT_FORMATS } from './io.js';
export type { DecodedImage, DecodeLimits, EncodeOptions, OutputFormat } from './io.js';
export { safeFetch, assertPublicUrl } from './fetch.js';
export type { SafeFetchOptions, SafeFetchResult, VettedUrl, Resolver } from './fetch.js';
export { parseDataUri, isDataUri, toDataUri } from './data-uri.js';
export { readSource, sourceKind, uploadIdOf } from './source.js';
export { loadImage, loadMask, sourceFingerprint, urlParamFingerprint, withDetails } from './load.js';
export { insertPngText, readPngText, readWorkflowFromPng, isPng } from './png-metadata.js';
export {
  emptyMask,
  invertMask,
  thresholdMask,
  growMask,
  featherMask,
  resizeMask,
  cropMask,
  maskStats,
  maskBounds,
  prepareMask,
} from './mask.js';
export { compositeImage, blendThroughMask, measureColorShift, applyColorTransfer } from './composite.js';
export { cropRegionForMask, cropToBox, uncrop } from './crop.js';
export { resizeImage, cropImage } from './resize.js';
export type { ResizeMode } from './resize.js';
export { fillMasked, FILL_METHODS } from './fill.js';
export type { FillMethod } from './fill.js';
export { imageToTensor, maskToTensor, tensorToImages } from './tensor.js';
export type { Tensor } from './tensor.js';
