/**
 * CLIP BPE tokenizer, id-exact with transformers' slow `CLIPTokenizer` + ftfy (what diffusers feeds
 * SDXL's two text encoders).
 *
 * API (stable; used by the text-encoding pipeline):
 *   const tok = await ClipTokenizer.fromDir('<model>/tokenizer');      // or tokenizer_2
 *   tok.encode(text)        -> { ids: number[77], numTokens, truncated }
 *                              ids = [bos] + content[:75] + [eos] + pad...; numTokens = content tokens
 *                              before truncation; truncated = numTokens > 75
 *   tok.encodeContent(text) -> content ids only (no bos/eos, no truncation), e.g. for prompt chunking
 *   tok.tokenize(text)      -> BPE token strings ('cat</w>', '<|endoftext|>', ...)
 *   tok.addTokens(['<ti>', '<ti>_1']) -> ids appended after the vocab (textual inversion); added tokens
 *                              are matched in the raw text like special tokens
 *   tok.expandAddedTokens('a <ti> cat') -> 'a <ti> <ti>_1 cat' (diffusers' maybe_convert_prompt)
 *   tok.tokenToId(token)    -> id of a vocab/added token string, or undefined
 *   tok.padId, tok.bosId, tok.eosId, tok.vocabSize (vocab + added tokens), tok.maxLength (77)
 *   new ClipTokenizer({ tables: buildBpeTables(vocabJson, mergesText), bos, eos, unk, pad }) for raw data.
 * Loading parses the 49k-entry vocab and 48,894 merges once per distinct file content (~0.2-0.5 s cold
 * on a busy core); tokenizer_2 and later loads of identical files reuse the parsed tables (~15 ms).
 *
 * Semantics (reference: transformers 4.38 CLIPTokenizer with ftfy installed):
 *  1. Split the raw prompt on the special tokens (bos, eos/unk and the PAD token) and added tokens:
 *     exact, case-sensitive, longest match first. Each match becomes its own id. Because SDXL's
 *     tokenizer_2 pads with '!', every '!' in a prompt becomes id 0 there (diffusers issue #4153).
 *  2. Every other piece: ftfy.fix_text (see text-fix.ts) -> collapse whitespace -> strip -> lower,
 *     then CLIP's pre-tokenisation regex, UTF-8 bytes -> GPT-2 byte-to-unicode table, BPE with '</w>'
 *     on the last symbol, vocab lookup (unknown -> unk id).
 *  Known difference: ftfy's mojibake repair is not implemented (text-fix.ts).
 *
 * Why hand-written rather than @huggingface/tokenizers: step 1 (pad token '!' treated as a special
 * token) and the ftfy pass are properties of the slow Python tokenizer that the fast/Rust tokenizer
 * does not reproduce, and there is no tokenizer.json in Optimum's SDXL export anyway. The BPE itself
 * is ~60 lines with a merge-rank map and a per-word cache.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { fixText } from './text-fix.js';

export interface ClipEncoding {
  /** Always `maxLength` (77) ids: bos, content (max 75), eos, padding. */
  ids: number[];
  /** Content tokens (without bos/eos) before truncation. */
  numTokens: number;
  /** True when content tokens were dropped to fit. */
  truncated: boolean;
}

/** Same characters as Python's `str.isspace()` (what `re.sub(r"\s+", " ")` collapses). */
const WS = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WS_RUN_RE = new RegExp(`[${WS}]+`, 'g');
const EDGE_WS_RE = new RegExp(`^[${WS}]+|[${WS}]+$`, 'g');
/** CLIP's pre-tokenisation pattern (case-insensitive, as in openai/CLIP and transformers). */
const PRETOKEN_RE = new RegExp(
  `<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^${WS}\\p{L}\\p{N}]+`,
  'giu',
);

/** GPT-2's reversible byte -> printable unicode character table. */
const BYTE_TO_UNICODE: string[] = (() => {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const table = new Array<string>(256);
  for (const b of bs) table[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (table[b] === undefined) table[b] = String.fromCharCode(256 + n++);
  return table;
})();

const UTF8 = new TextEncoder();
/** transformers reads only this many merges (49152 - 256 - 2). */
const MAX_MERGES = 48894;
const WORD_CACHE_LIMIT = 20000;

type TokenSpec = string | { content?: string } | null | undefined;
const contentOf = (t: TokenSpec): string | undefined => (typeof t === 'string' ? t : (t?.content ?? undefined));

async function readJson(path: string, optional: boolean): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read tokenizer file ${path}: ${(err as Error).message}`);
  }
}

/** Vocabulary and merge ranks: immutable, shared by every tokenizer loaded from identical files. */
export interface BpeTables {
  /** token -> id (vocab.json); `maxId` is the largest id. */
  encoder: { get(token: string): number | undefined; readonly maxId: number };
  /** "first second" -> merge priority (lower merges first). */
  ranks: ReadonlyMap<string, number>;
}

/** Builds the tables from vocab.json's object and merges.txt's text (with or without `#version`). */
export function buildBpeTables(vocab: Record<string, number>, mergesText: string): BpeTables {
  // The parsed JSON object is used as is (a 49k-key Map would cost another ~50 ms to build).
  let maxId = -1;
  for (const key in vocab) if (vocab[key] > maxId) maxId = vocab[key];
  const encoder = { get: (token: string) => (Object.hasOwn(vocab, token) ? vocab[token] : undefined), maxId };
  const ranks = new Map<string, number>();
  let pos = mergesText.startsWith('#version') ? mergesText.indexOf('\n') + 1 : 0;
  if (pos === 0 && mergesText.startsWith('#version')) pos = mergesText.length;
  let rank = 0;
  while (pos < mergesText.length && rank < MAX_MERGES) {
    let end = mergesText.indexOf('\n', pos);
    if (end < 0) end = mergesText.length;
    let line = mergesText.slice(pos, end);
    pos = end + 1;
    const sp = line.indexOf(' ');
    // Fast path "a b"; anything else is normalised the way Python's str.split() would.
    if (sp <= 0 || line.indexOf(' ', sp + 1) >= 0 || /[\t\r\v\f]/.test(line)) {
      const parts = line.trim().split(/\s+/);
      if (parts.length !== 2) continue;
      line = parts[0] + ' ' + parts[1];
    }
    ranks.set(line, rank++);
  }
  return { encoder, ranks };
}

const tableCache = new Map<string, BpeTables>();

/** Reads vocab.json + merges.txt; parsed tables are cached by content hash (tokenizer_2 shares them). */
async function loadTables(dir: string): Promise<BpeTables> {
  // allSettled, not all: which read fails first is a race, and the error must name files in a fixed order.
  const names = ['vocab.json', 'merges.txt'] as const;
  const results = await Promise.allSettled(names.map((name) => readFile(join(dir, name))));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${join(dir, names[i])}: ${(r.reason as Error).message}`] : []));
  if (failed.length > 0) throw new Error(`cannot read tokenizer file ${failed.join('; ')}`);
  const [vocabBytes, mergesBytes] = results.map((r) => (r as PromiseFulfilledResult<Buffer>).value);
  const key = createHash('sha1').update(vocabBytes).update('\0').update(mergesBytes).digest('hex');
  const hit = tableCache.get(key);
  if (hit) return hit;
  let vocab: Record<string, number>;
  try {
    vocab = JSON.parse(vocabBytes.toString('utf8')) as Record<string, number>;
  } catch (err) {
    throw new Error(`cannot parse ${join(dir, 'vocab.json')}: ${(err as Error).message}`);
  }
  const tables = buildBpeTables(vocab, mergesBytes.toString('utf8'));
  if (tableCache.size >= 4) tableCache.delete(tableCache.keys().next().value!);
  tableCache.set(key, tables);
  return tables;
}

export class ClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number;
  readonly maxLength: number;
  private readonly encoder: BpeTables['encoder'];
  private readonly ranks: ReadonlyMap<string, number>;
  private readonly cache = new Map<string, string[]>();
  /** Tokens split out of the raw text before anything else (special + added), content -> id. */
  private readonly noSplit = new Map<string, number>();
  private noSplitByFirstChar = new Map<string, string[]>();
  private nextAddedId: number;

  constructor(opts: {
    tables: BpeTables;
    bos: string;
    eos: string;
    unk: string;
    pad: string;
    maxLength?: number;
    /** Added tokens already known to the tokenizer (content -> id), e.g. added_tokens_decoder. */
    addedTokens?: Record<string, number>;
  }) {
    this.encoder = opts.tables.encoder;
    this.ranks = opts.tables.ranks;
    let maxId = this.encoder.maxId;
    for (const id of Object.values(opts.addedTokens ?? {})) if (id > maxId) maxId = id;
    this.nextAddedId = maxId + 1;
    const idOf = (tok: string, what: string): number => {
      const id = opts.addedTokens?.[tok] ?? this.encoder.get(tok);
      if (id === undefined) throw new Error(`tokenizer ${what} token ${JSON.stringify(tok)} is not in the vocabulary`);
      return id;
    };
    this.bosId = idOf(opts.bos, 'bos');
    this.eosId = idOf(opts.eos, 'eos');
    this.unkId = idOf(opts.unk, 'unk');
    this.padId = idOf(opts.pad, 'pad');
    this.maxLength = opts.maxLength ?? 77;
    for (const [tok, id] of Object.entries(opts.addedTokens ?? {})) this.registerNoSplit(tok, id);
    this.registerNoSplit(opts.bos, this.bosId);
    this.registerNoSplit(opts.eos, this.eosId);
    this.registerNoSplit(opts.unk, this.unkId);
    this.registerNoSplit(opts.pad, this.padId);
  }

  /** Loads vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json (+ added_tokens.json). */
  static async fromDir(dir: string): Promise<ClipTokenizer> {
    const [tables, config, specialMap, addedJson] = await Promise.all([
      loadTables(dir),
      readJson(join(dir, 'tokenizer_config.json'), true),
      readJson(join(dir, 'special_tokens_map.json'), true),
      readJson(join(dir, 'added_tokens.json'), true),
    ]);
    const special = (key: string, fallback: string): string =>
      contentOf(specialMap?.[key] as TokenSpec) ?? contentOf(config?.[key] as TokenSpec) ?? fallback;
    const added: Record<string, number> = {};
    const decoder = (config?.added_tokens_decoder ?? {}) as Record<string, TokenSpec>;
    for (const [id, spec] of Object.entries(decoder)) {
      const content = contentOf(spec);
      if (content !== undefined) added[content] = Number(id);
    }
    for (const [tok, id] of Object.entries(addedJson ?? {})) if (typeof id === 'number') added[tok] = id;
    const eos = special('eos_token', '<|endoftext|>');
    const maxLen = config?.model_max_length;
    return new ClipTokenizer({
      tables,
      bos: special('bos_token', '<|startoftext|>'),
      eos,
      unk: special('unk_token', eos),
      pad: special('pad_token', eos),
      maxLength: typeof maxLen === 'number' && maxLen > 2 && maxLen < 1e6 ? maxLen : 77,
      addedTokens: added,
    });
  }

  /** Vocabulary size including added tokens (= transformers' `len(tokenizer)`). */
  get vocabSize(): number {
    return this.nextAddedId;
  }

  /**
   * Adds tokens (textual inversion). New ones get ids after the vocab, in order; a token that
   * already exists keeps its id. Added tokens are split out of the raw text, case-sensitive.
   */
  addTokens(tokens: readonly string[]): number[] {
    return tokens.map((tok) => {
      if (tok.length === 0) throw new Error('cannot add an empty token');
      const existing = this.noSplit.get(tok) ?? this.encoder.get(tok);
      const id = existing ?? this.nextAddedId++;
      this.registerNoSplit(tok, id);
      return id;
    });
  }

  /**
   * diffusers' `maybe_convert_prompt` for multi-vector textual inversion: every added token `T` found
   * in the prompt is replaced by `T T_1 T_2 ...` for as many `T_i` as are registered.
   */
  expandAddedTokens(prompt: string): string {
    const seen = new Set<string>();
    let out = prompt;
    for (const piece of this.splitSpecial(prompt)) {
      if (piece.special === undefined || seen.has(piece.text)) continue;
      seen.add(piece.text);
      let replacement = piece.text;
      for (let i = 1; this.noSplit.has(`${piece.text}_${i}`); i++) replacement += ` ${piece.text}_${i}`;
      if (replacement !== piece.text) out = out.split(piece.text).join(replacement);
    }
    return out;
  }

  /** The id of one token string (vocab or added), if any. */
  tokenToId(token: string): number | undefined {
    return this.noSplit.get(token) ?? this.encoder.get(token);
  }

  encode(text: string): ClipEncoding {
    const content = this.encodeContent(text);
    const room = this.maxLength - 2;
    const kept = content.length > room ? content.slice(0, room) : content;
    const ids = [this.bosId, ...kept, this.eosId];
    while (ids.length < this.maxLength) ids.push(this.padId);
    return { ids, numTokens: content.length, truncated: content.length > room };
  }

  encodeContent(text: string): number[] {
    const ids: number[] = [];
    for (const piece of this.splitSpecial(text)) {
      if (piece.special !== undefined) ids.push(piece.special);
      else for (const tok of this.bpeTokens(piece.text)) ids.push(this.encoder.get(tok) ?? this.unkId);
    }
    return ids;
  }

  tokenize(text: string): string[] {
    const out: string[] = [];
    for (const piece of this.splitSpecial(text)) {
      if (piece.special !== undefined) out.push(piece.text);
      else out.push(...this.bpeTokens(piece.text));
    }
    return out;
  }

  private registerNoSplit(tok: string, id: number): void {
    this.noSplit.set(tok, id);
    const first = tok[0];
    const list = (this.noSplitByFirstChar.get(first) ?? []).filter((t) => t !== tok);
    list.push(tok);
    list.sort((a, b) => b.length - a.length); // longest match first
    this.noSplitByFirstChar.set(first, list);
  }

  /** Splits the raw text on special/added tokens: leftmost, then longest match. */
  private splitSpecial(text: string): { text: string; special?: number }[] {
    const pieces: { text: string; special?: number }[] = [];
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const candidates = this.noSplitByFirstChar.get(text[i]);
      if (!candidates) continue;
      const match = candidates.find((tok) => text.startsWith(tok, i));
      if (match === undefined) continue;
      if (i > start) pieces.push({ text: text.slice(start, i) });
      pieces.push({ text: match, special: this.noSplit.get(match)! });
      start = i + match.length;
      i = start - 1;
    }
    if (start < text.length) pieces.push({ text: text.slice(start) });
    return pieces;
  }

  /** ftfy -> whitespace clean -> lower -> regex -> byte-level BPE. */
  private bpeTokens(raw: string): string[] {
    const text = fixText(raw).replace(WS_RUN_RE, ' ').replace(EDGE_WS_RE, '').toLowerCase();
    const out: string[] = [];
    if (text.length === 0) return out;
    for (const m of text.matchAll(PRETOKEN_RE)) {
      let word = '';
      for (const b of UTF8.encode(m[0])) word += BYTE_TO_UNICODE[b];
      out.push(...this.bpe(word));
    }
    return out;
  }

  private bpe(token: string): string[] {
    // openai/CLIP seeds its cache so that the literal special tokens map to themselves.
    if (token === '<|startoftext|>' || token === '<|endoftext|>') return [token];
    const cached = this.cache.get(token);
    if (cached) return cached;
    let word = Array.from(token);
    word[word.length - 1] += '</w>';
    while (word.length > 1) {
      let best = Infinity;
      let bestFirst = '';
      let bestSecond = '';
      for (let i = 0; i < word.length - 1; i++) {
        const rank = this.ranks.get(word[i] + ' ' + word[i + 1]);
        if (rank !== undefined && rank < best) {
          best = rank;
          bestFirst = word[i];
          bestSecond = word[i + 1];
        }
      }
      if (best === Infinity) break;
      const merged: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i < word.length - 1 && word[i] === bestFirst && word[i + 1] === bestSecond) {
          merged.push(bestFirst + bestSecond);
          i++;
        } else {
          merged.push(word[i]);
        }
      }
      word = merged;
    }
    if (this.cache.size >= WORD_CACHE_LIMIT) this.cache.clear();
    this.cache.set(token, word);
    return word;
  }
}
