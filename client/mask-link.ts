// Where a painted mask goes: the mask-loading node feeding the MASK input downstream of a
// load-image node (created and linked when missing), or the image node's own mask URL param.
import { browserUrl } from './api.js';
import type { GraphEditor } from './graph/editor.js';
import type { CatalogueNode } from './types.js';

/** A node type that loads a mask from a URL: MASK output, no required inputs, a `url` param. */
export function maskLoaderType(nodes: CatalogueNode[]): CatalogueNode | undefined {
  const candidates = nodes.filter(
    (n) =>
      Object.values(n.outputs).some((o) => o.type === 'MASK') &&
      Object.values(n.inputs).every((i) => i.optional) &&
      n.params.properties?.url?.type === 'string',
  );
  return candidates.find((n) => /load-mask/.test(n.type)) ?? candidates.find((n) => n.category === 'mask') ?? candidates[0];
}

/** The image node's own mask URL param, when its type has one. */
function ownMaskParam(def: CatalogueNode | undefined): string | undefined {
  const props = def?.params.properties ?? {};
  return Object.keys(props).find((k) => /^mask(_url)?$/.test(k) && props[k]!.type === 'string');
}

/** The (node, input) that should receive the mask: the first MASK input downstream of the image node, else any unlinked one. */
export function maskTarget(editor: GraphEditor, imageNodeId: string): { nodeId: string; input: string } | undefined {
  const seen = new Set<string>([imageNodeId]);
  let frontier = [imageNodeId];
  while (frontier.length) {
    const next: string[] = [];
    for (const id of frontier) {
      for (const c of editor.consumers(id)) {
        const id2 = c.node.wfId!;
        const maskInput = c.node.inputs.find((i) => i.type === 'MASK');
        if (maskInput) return chainTop(editor, { nodeId: id2, input: maskInput.name });
        if (!seen.has(id2)) {
          seen.add(id2);
          next.push(id2);
        }
      }
    }
    frontier = next;
  }
  for (const n of editor.nodes()) {
    const free = n.inputs.find((i) => i.type === 'MASK' && i.link == null);
    if (free) return { nodeId: n.wfId!, input: free.name };
  }
  return undefined;
}

/** The mask-loading node that already serves this image: one fed by it, or the one at the top of the MASK chain into the target. */
export function findMaskLoader(editor: GraphEditor, imageNodeId: string): MaskflowNodeLike | undefined {
  const loaderDef = maskLoaderType(editor.nodeTypes);
  if (!loaderDef) return undefined;
  const direct = editor.consumers(imageNodeId).find((c) => c.node.type === loaderDef.type);
  if (direct) return direct.node;
  const target = maskTarget(editor, imageNodeId);
  let node = target && editor.source(target.nodeId, target.input);
  for (let hops = 0; node && hops < 20; hops++) {
    if (node.type === loaderDef.type) return node;
    const maskIn = node.inputs.find((i) => i.type === 'MASK');
    node = maskIn ? editor.source(node.wfId!, maskIn.name) : undefined;
  }
  return undefined;
}

type MaskflowNodeLike = NonNullable<ReturnType<GraphEditor['node']>>;

/** Follows a linked MASK input upstream through mask nodes (prepare, grow, ...) to the first free MASK input. */
function chainTop(editor: GraphEditor, target: { nodeId: string; input: string }): { nodeId: string; input: string } {
  let t = target;
  for (let hops = 0; hops < 20; hops++) {
    const src = editor.source(t.nodeId, t.input);
    const maskIn = src?.inputs.find((i) => i.type === 'MASK');
    if (!src || !maskIn) return t;
    t = { nodeId: src.wfId!, input: maskIn.name };
  }
  return t;
}

/** The existing mask URL for an image node (to continue painting), if any. */
export function currentMaskUrl(editor: GraphEditor, imageNodeId: string): string | undefined {
  const img = editor.node(imageNodeId);
  const own = ownMaskParam(img && editor.def(img.type));
  const url = own ? editor.param(imageNodeId, own) : (() => {
    const loader = findMaskLoader(editor, imageNodeId);
    return loader ? editor.param(loader.wfId!, 'url') : undefined;
  })();
  return browserUrl(url);
}

/** Puts the uploaded mask URL into the workflow; returns a sentence saying where it went. */
export function connectMask(editor: GraphEditor, imageNodeId: string, maskUrl: string): string {
  const img = editor.node(imageNodeId);
  if (!img) throw new Error(`node ${imageNodeId} is gone`);
  const own = ownMaskParam(editor.def(img.type));
  if (own) {
    editor.setParam(imageNodeId, own, maskUrl);
    return `Mask set on ${imageNodeId}.${own}`;
  }
  const existing = findMaskLoader(editor, imageNodeId);
  if (existing) {
    editor.setParam(existing.wfId!, 'url', maskUrl);
    return `Mask loaded in ${existing.wfId}`;
  }
  const loaderDef = maskLoaderType(editor.nodeTypes);
  if (!loaderDef) throw new Error('no node type can load a mask from a URL (expected one with a MASK output and a url param)');
  const target = maskTarget(editor, imageNodeId);
  const pos: [number, number] = [img.pos[0], img.pos[1] + img.size[1] + 70];
  const loaderId = editor.addNode(loaderDef.type, pos, { url: maskUrl });
  // A loader that can take the image resizes the mask to it.
  const imageIn = Object.entries(loaderDef.inputs).find(([, i]) => i.type === 'IMAGE');
  const imageOut = img.outputs.find((o) => o.type === 'IMAGE');
  if (imageIn && imageOut) editor.connect(imageNodeId, imageOut.name, loaderId, imageIn[0]);
  if (!target) return `Mask loaded in ${loaderId}; no MASK input to connect it to`;
  const output = Object.entries(loaderDef.outputs).find(([, o]) => o.type === 'MASK')![0];
  editor.connect(loaderId, output, target.nodeId, target.input);
  return `Mask loaded in ${loaderId} and connected to ${target.nodeId}.${target.input}`;
}
