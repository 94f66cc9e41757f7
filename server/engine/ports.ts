// Port types: the names links are checked against. The engine knows the names and
// colours only; what a value of each type looks like is declared by the domain
// libraries through declaration merging on PortValueMap (see server/*/port-types.ts).

/** Maps a port type name to the TypeScript type of the values it carries. Augmented by domain modules. */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface PortValueMap {
  STRING: string;
  INT: number;
  FLOAT: number;
  BOOLEAN: boolean;
  JSON: unknown;
}

export type PortType = keyof PortValueMap & string;

export interface PortTypeInfo {
  /** CSS colour used by the editor for links and slots. */
  color: string;
  description: string;
}

/** Every port type a node may declare. Unknown names are rejected by the registry. */
export const PORT_TYPES: Record<string, PortTypeInfo> = {
  IMAGE: { color: '#64b5f6', description: 'A batch of RGB images (8-bit, interleaved HWC).' },
  MASK: { color: '#81c784', description: 'A single-channel mask in [0,1]; 1 = repaint.' },
  LATENT: { color: '#ff8a80', description: 'Latent tensors (and inpainting extras) for the UNet.' },
  CONDITIONING: { color: '#ffa931', description: 'Encoded prompt embeddings (positive or negative).' },
  UNET: { color: '#b39ddb', description: 'Reference to a denoising UNet (model + LoRAs).' },
  CLIP: { color: '#ffd500', description: 'Reference to the text encoders and tokenizers (model + LoRAs + embeddings).' },
  VAE: { color: '#ff6e6e', description: 'Reference to the VAE encoder/decoder.' },
  CONTROLNET: { color: '#a1887f', description: 'Reference to a ControlNet (a compiled diffusers SDXL ControlNet).' },
  CONTROL: { color: '#8d6e63', description: 'ControlNet guidance to apply while denoising: ControlNets, control images, strengths and windows.' },
  CROP: { color: '#4db6ac', description: 'Where a crop was taken from, so it can be pasted back.' },
  SAFETY: { color: '#e57373', description: 'Per-image safety results.' },
  STRING: { color: '#c5e1a5', description: 'Text.' },
  INT: { color: '#90caf9', description: 'An integer.' },
  FLOAT: { color: '#80deea', description: 'A number.' },
  BOOLEAN: { color: '#ce93d8', description: 'true or false.' },
  JSON: { color: '#bdbdbd', description: 'Any JSON value.' },
};

export function isPortType(name: string): name is PortType {
  return Object.prototype.hasOwnProperty.call(PORT_TYPES, name);
}
