// ComfyUI's core classes (inputs as in its nodes.py / nodes_mask.py / nodes_clip_sdxl.py),
// each translated onto one maskflow node or a small subgraph. Ranges are ComfyUI's except
// where maskflow accepts less; then the narrower range is declared, so /object_info and
// validation agree with what runs.
import { IMAGE_CLASSES } from './classes-images.js';
import { MODEL_CLASSES } from './classes-models.js';
import type { ComfyClassDef } from './spec.js';

/** Every translated class, in the order of the former single table (it is /object_info's order). */
export const COMFY_CLASSES: Record<string, ComfyClassDef> = { ...MODEL_CLASSES, ...IMAGE_CLASSES };
