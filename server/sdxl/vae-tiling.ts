// Tiled VAE encode/decode, as diffusers' AutoencoderKL.tiled_encode / tiled_decode do it.
// Above a size threshold the VAE's full-resolution activations dominate memory (at 2048² an
// SDXL decoder holds 128 ch × 2048² floats per layer), so the input is cut into overlapping
// tiles run one at a time, and the overlaps are blended linearly. Tiling changes the numbers
// (each tile has its own GroupNorm statistics), so callers use it only above the threshold.

/** `auto`: tile above diffusers' threshold; `off`: never tile (MASKFLOW_VAE_TILING). */
export type VaeTilingMode = 'auto' | 'off';

/** diffusers' tile sizes: `tile_sample_min_size` (pixels) and `tile_latent_min_size` (latent cells). */
export interface VaeTileSizes {
  sample: number;
  latent: number;
}

export interface VaeTiling {
  mode: VaeTilingMode;
  sizes: VaeTileSizes;
}

/** diffusers' `tile_overlap_factor`. */
export const TILE_OVERLAP_FACTOR = 0.25;

/** One image as a planar [channels, height, width] float32 tensor. */
export interface Planar {
  data: Float32Array;
  channels: number;
  height: number;
  width: number;
}

/** Where tiles start in the input, how much of each output is blended and how much is kept. */
export interface TileGeometry {
  /** Input tile side (a tile at the bottom/right edge may be smaller). */
  tile: number;
  /** Distance between tile origins in the input (diffusers' `overlap_size`). */
  stride: number;
  /** Output rows/columns blended with the tile above/left (diffusers' `blend_extent`). */
  blendExtent: number;
  /** Output rows/columns kept from each tile (diffusers' `row_limit`). */
  rowLimit: number;
}

// Python's int() on a positive float: truncation.
const int = Math.trunc;

function checked(g: TileGeometry, what: string, sizes: VaeTileSizes): TileGeometry {
  if (!(g.stride >= 1 && g.rowLimit >= 1 && g.blendExtent >= 0)) {
    throw new Error(`VAE tile sizes ${sizes.sample} px / ${sizes.latent} latent are too small for tiled ${what} (stride ${g.stride}, row limit ${g.rowLimit})`);
  }
  return g;
}

/** tiled_decode: tiles of latent cells, blended and cropped in pixels. */
export function decodeGeometry(sizes: VaeTileSizes, overlap = TILE_OVERLAP_FACTOR): TileGeometry {
  const blendExtent = int(sizes.sample * overlap);
  return checked({ tile: sizes.latent, stride: int(sizes.latent * (1 - overlap)), blendExtent, rowLimit: sizes.sample - blendExtent }, 'decode', sizes);
}

/** tiled_encode: tiles of pixels, blended and cropped in latent cells. */
export function encodeGeometry(sizes: VaeTileSizes, overlap = TILE_OVERLAP_FACTOR): TileGeometry {
  const blendExtent = int(sizes.latent * overlap);
  return checked({ tile: sizes.sample, stride: int(sizes.sample * (1 - overlap)), blendExtent, rowLimit: sizes.latent - blendExtent }, 'encode', sizes);
}

/** diffusers' `_decode` condition: the latent is larger than one tile in either dimension. */
export function decodeNeedsTiling(tiling: VaeTiling | undefined, height: number, width: number): boolean {
  return tiling?.mode === 'auto' && (height > tiling.sizes.latent || width > tiling.sizes.latent);
}

/** diffusers' `encode` condition: the image is larger than one tile in either dimension. */
export function encodeNeedsTiling(tiling: VaeTiling | undefined, height: number, width: number): boolean {
  return tiling?.mode === 'auto' && (height > tiling.sizes.sample || width > tiling.sizes.sample);
}

/** `range(0, size, stride)`. */
export function tileStarts(size: number, stride: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < size; s += stride) out.push(s);
  return out;
}

/**
 * blend_v: the first rows of `b` fade in from the last rows of `a` (the tile above), in place.
 * float32 arithmetic as torch does it (weights are cast to the tensor's dtype).
 */
export function blendV(a: Planar, b: Planar, extent: number): void {
  const e = Math.min(a.height, b.height, extent);
  if (e > 0 && (a.width !== b.width || a.channels !== b.channels)) throw new Error(`blendV: tiles ${a.channels}×${a.width} and ${b.channels}×${b.width} differ`);
  for (let y = 0; y < e; y++) {
    const wb = Math.fround(y / e);
    const wa = Math.fround(1 - y / e);
    for (let c = 0; c < b.channels; c++) {
      const ra = (c * a.height + a.height - e + y) * a.width;
      const rb = (c * b.height + y) * b.width;
      for (let x = 0; x < b.width; x++) b.data[rb + x] = Math.fround(a.data[ra + x]! * wa) + Math.fround(b.data[rb + x]! * wb);
    }
  }
}

/** blend_h: the first columns of `b` fade in from the last columns of `a` (the tile to the left), in place. */
export function blendH(a: Planar, b: Planar, extent: number): void {
  const e = Math.min(a.width, b.width, extent);
  if (e > 0 && (a.height !== b.height || a.channels !== b.channels)) throw new Error(`blendH: tiles ${a.channels}×${a.height} and ${b.channels}×${b.height} differ`);
  for (let x = 0; x < e; x++) {
    const wb = Math.fround(x / e);
    const wa = Math.fround(1 - x / e);
    for (let c = 0; c < b.channels; c++) {
      for (let y = 0; y < b.height; y++) {
        const ia = (c * a.height + y) * a.width + a.width - e + x;
        const ib = (c * b.height + y) * b.width + x;
        b.data[ib] = Math.fround(a.data[ia]! * wa) + Math.fround(b.data[ib]! * wb);
      }
    }
  }
}

/** The [top, top+h) × [left, left+w) window of `src`, clipped to its bounds, as a new tensor. */
export function crop(src: Planar, top: number, left: number, h: number, w: number): Planar {
  const height = Math.min(h, src.height - top);
  const width = Math.min(w, src.width - left);
  const data = new Float32Array(src.channels * height * width);
  for (let c = 0; c < src.channels; c++) {
    for (let y = 0; y < height; y++) {
      const from = (c * src.height + top + y) * src.width + left;
      data.set(src.data.subarray(from, from + width), (c * height + y) * width);
    }
  }
  return { data, channels: src.channels, height, width };
}

function paste(dst: Planar, src: Planar, top: number, left: number, h: number, w: number): void {
  for (let c = 0; c < src.channels; c++) {
    for (let y = 0; y < h; y++) {
      const from = (c * src.height + y) * src.width;
      dst.data.set(src.data.subarray(from, from + w), (c * dst.height + top + y) * dst.width + left);
    }
  }
}

/** Output side: every tile's output (its input side × scale) cropped to the row limit, concatenated. */
function outputSide(size: number, g: TileGeometry, scale: number): number {
  return tileStarts(size, g.stride).reduce((sum, s) => sum + Math.min(Math.min(g.tile, size - s) * scale, g.rowLimit), 0);
}

export interface TiledRunStats {
  tiles: number;
}

/**
 * Runs `run` on overlapping tiles of `input` one at a time and assembles the outputs as
 * diffusers does: row by row, each tile blended in place with the (already blended) tile
 * above and then the one to its left, cropped to `rowLimit` and concatenated. Only the
 * previous row of tiles is kept, so memory is one tile's run plus a row of tile outputs.
 */
export async function tiledRun(input: Planar, g: TileGeometry, run: (tile: Planar) => Promise<Planar>, stats?: TiledRunStats): Promise<Planar> {
  const rows = tileStarts(input.height, g.stride);
  const cols = tileStarts(input.width, g.stride);
  let out: Planar | undefined;
  let scale = 0;
  let above: Planar[] = [];
  let top = 0;
  for (let i = 0; i < rows.length; i++) {
    const row: Planar[] = [];
    let left = 0;
    let keptH = 0;
    for (let j = 0; j < cols.length; j++) {
      const inTile = crop(input, rows[i]!, cols[j]!, g.tile, g.tile);
      const tile = await run(inTile);
      if (stats) stats.tiles++;
      // The output size follows from the first tile's scale (×8 decoding, ÷8 encoding); every tile must agree.
      if (!out) {
        scale = tile.height / inTile.height;
        out = { channels: tile.channels, height: outputSide(input.height, g, scale), width: outputSide(input.width, g, scale), data: new Float32Array(0) };
        out.data = new Float32Array(out.channels * out.height * out.width);
      }
      if (tile.height !== inTile.height * scale || tile.width !== inTile.width * scale || tile.channels !== out.channels) {
        throw new Error(`VAE tile ${inTile.height}×${inTile.width} gave ${tile.channels}×${tile.height}×${tile.width}, expected ${out.channels}×${inTile.height * scale}×${inTile.width * scale}`);
      }
      if (i > 0) blendV(above[j]!, tile, g.blendExtent);
      if (j > 0) blendH(row[j - 1]!, tile, g.blendExtent);
      row.push(tile);
      const keepH = Math.min(tile.height, g.rowLimit);
      const keepW = Math.min(tile.width, g.rowLimit);
      paste(out, tile, top, left, keepH, keepW);
      left += keepW;
      keptH = keepH;
    }
    top += keptH;
    above = row;
  }
  if (!out) throw new Error(`cannot tile an empty ${input.height}×${input.width} input`);
  return out;
}
