// Value types of the IMAGE and MASK ports.

/** 8-bit RGB, interleaved row-major (HWC), data.length = width * height * 3. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** The IMAGE port carries a batch (num_images); most nodes map over it. */
export type ImageBatch = RgbImage[];

/** Single channel, row-major, values in [0,1]; 1 = repaint, 0 = keep. Soft edges allowed. */
export interface Mask {
  width: number;
  height: number;
  data: Float32Array;
}

declare module '../engine/ports.js' {
  interface PortValueMap {
    IMAGE: ImageBatch;
    MASK: Mask;
  }
}

/**
 * Where image/crop-to-mask took its crop from, so image/uncrop can put the result back.
 * The box is in original-image pixels; the crop was scaled to workWidth x workHeight.
 */
export interface CropRegion {
  x: number;
  y: number;
  width: number;
  height: number;
  originalWidth: number;
  originalHeight: number;
  workWidth: number;
  workHeight: number;
}

declare module '../engine/ports.js' {
  interface PortValueMap {
    CROP: CropRegion;
  }
}
