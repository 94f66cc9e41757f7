// A ComfyUI editor workflow (UI format: nodes + links) for inpainting, written the way its
// frontend saves one: widgets_values in input order with the seed control value, a reroute,
// a note, a muted node, and a custom node maskflow has no translation for.
export function uiInpaintWorkflow(opts: { withUnknown?: boolean } = {}) {
  const nodes: any[] = [
    { id: 4, type: 'CheckpointLoaderSimple', pos: [26, 474], mode: 0, inputs: [], outputs: [{ name: 'MODEL', type: 'MODEL', links: [1] }, { name: 'CLIP', type: 'CLIP', links: [3, 5] }, { name: 'VAE', type: 'VAE', links: [12, 20] }], widgets_values: ['tiny-sdxl-inpaint'] },
    { id: 6, type: 'CLIPTextEncode', pos: { 0: 415, 1: 186 }, mode: 0, inputs: [{ name: 'clip', type: 'CLIP', link: 3 }], outputs: [{ name: 'CONDITIONING', type: 'CONDITIONING', links: [4] }], widgets_values: ['a red apple'] },
    { id: 7, type: 'CLIPTextEncode', pos: [413, 389], mode: 0, title: 'Negative', inputs: [{ name: 'clip', type: 'CLIP', link: 5 }], outputs: [{ name: 'CONDITIONING', type: 'CONDITIONING', links: [6] }], widgets_values: ['text, watermark'] },
    { id: 10, type: 'LoadImage', pos: [10, 700], mode: 0, inputs: [], outputs: [{ name: 'IMAGE', type: 'IMAGE', links: [13] }, { name: 'MASK', type: 'MASK', links: [14] }], widgets_values: ['photo.png', 'image'] },
    { id: 11, type: 'VAEEncodeForInpaint', pos: [500, 700], mode: 0, inputs: [{ name: 'pixels', type: 'IMAGE', link: 13 }, { name: 'vae', type: 'VAE', link: 12 }, { name: 'mask', type: 'MASK', link: 14 }], outputs: [{ name: 'LATENT', type: 'LATENT', links: [2] }], widgets_values: [8] },
    {
      id: 3,
      type: 'KSampler',
      pos: [863, 186],
      mode: 0,
      inputs: [
        { name: 'model', type: 'MODEL', link: 1 },
        { name: 'positive', type: 'CONDITIONING', link: 4 },
        { name: 'negative', type: 'CONDITIONING', link: 6 },
        { name: 'latent_image', type: 'LATENT', link: 2 },
      ],
      outputs: [{ name: 'LATENT', type: 'LATENT', links: [7] }],
      widgets_values: [156680208700286, 'randomize', 3, 7, 'dpmpp_2m', 'karras', 0.9],
    },
    { id: 15, type: 'Reroute', pos: [1100, 500], mode: 0, inputs: [{ name: '', type: '*', link: 20 }], outputs: [{ name: '', type: 'VAE', links: [21] }] },
    { id: 8, type: 'VAEDecode', pos: [1209, 188], mode: 0, inputs: [{ name: 'samples', type: 'LATENT', link: 7 }, { name: 'vae', type: 'VAE', link: 21 }], outputs: [{ name: 'IMAGE', type: 'IMAGE', links: [9, 30, 40] }] },
    { id: 9, type: 'SaveImage', pos: [1451, 189], mode: 0, inputs: [{ name: 'images', type: 'IMAGE', link: 9 }], outputs: [], widgets_values: ['inpainted'] },
    { id: 12, type: 'Note', pos: [0, 0], mode: 0, inputs: [], outputs: [], widgets_values: ['Paint the mask in the image editor.'] },
    { id: 13, type: 'PreviewImage', pos: [1451, 500], mode: 2, inputs: [{ name: 'images', type: 'IMAGE', link: 40 }], outputs: [] },
  ];
  const links: any[] = [
    [1, 4, 0, 3, 0, 'MODEL'],
    [2, 11, 0, 3, 3, 'LATENT'],
    [3, 4, 1, 6, 0, 'CLIP'],
    [4, 6, 0, 3, 1, 'CONDITIONING'],
    [5, 4, 1, 7, 0, 'CLIP'],
    [6, 7, 0, 3, 2, 'CONDITIONING'],
    [7, 3, 0, 8, 0, 'LATENT'],
    [9, 8, 0, 9, 0, 'IMAGE'],
    [12, 4, 2, 11, 1, 'VAE'],
    [13, 10, 0, 11, 0, 'IMAGE'],
    [14, 10, 1, 11, 2, 'MASK'],
    [20, 4, 2, 15, 0, 'VAE'],
    [21, 15, 0, 8, 1, 'VAE'],
    [40, 8, 0, 13, 0, 'IMAGE'],
  ];
  if (opts.withUnknown) {
    nodes.push(
      { id: 20, type: 'UltimateSDUpscale', pos: [1451, 800], mode: 0, inputs: [{ name: 'image', type: 'IMAGE', link: 30 }], outputs: [{ name: 'IMAGE', type: 'IMAGE', links: [31] }], widgets_values: [2, 42, 'randomize'] },
      { id: 21, type: 'SaveImage', pos: [1700, 800], mode: 0, inputs: [{ name: 'images', type: 'IMAGE', link: 31 }], outputs: [], widgets_values: ['upscaled'] },
    );
    links.push([30, 8, 0, 20, 0, 'IMAGE'], [31, 20, 0, 21, 0, 'IMAGE']);
  }
  return { last_node_id: 21, last_link_id: 40, nodes, links, groups: [], config: {}, extra: {}, version: 0.4 };
}
