/**
 * ftfy-compatible text fixing for the CLIP tokenizer (`fixText`).
 *
 * transformers' slow `CLIPTokenizer` (what diffusers uses) runs `ftfy.fix_text` (ftfy 6.3, default
 * config) on every piece of the prompt before lower-casing and BPE. This module reproduces the
 * deterministic part of that, in ftfy's order, repeated until the text stops changing:
 *   unescape_html ('auto': skipped once a segment contains '<'), fix_c1_controls (sloppy cp1252),
 *   fix_latin_ligatures, fix_character_width (full/half-width forms via NFKC, U+3000 -> ' '),
 *   uncurl_quotes, fix_line_breaks, fix_surrogates, remove_terminal_escapes, remove_control_chars,
 *   then NFC normalisation. Text is processed in segments ending at '\n', as ftfy does.
 *
 * Known difference: ftfy's `fix_encoding` (mojibake repair such as "cafÃ©" -> "café", built on
 * statistical "badness" heuristics and multi-codec re-decoding) is NOT implemented; such prompts are
 * tokenised as typed. Clean prompts (everything users normally type) are unaffected.
 */
import { HTML_ENTITIES } from './html-entities.js';

const HTML_ENTITY_RE = /&#?[0-9A-Za-z]{1,24};/g;
const SINGLE_QUOTE_RE = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_QUOTE_RE = /[\u201c-\u201f]/g;
const C1_CONTROL_RE = /[\x80-\x9f]/g;
// Python's `\d` in a str pattern is any Unicode decimal digit.
const ANSI_RE = /\x1b\[(?:\p{Nd}|;)*[a-zA-Z]/gu;
const LONE_SURROGATE_RE = /[\ud800-\udfff]/gu;
const CONTROL_CHARS_RE = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;
const LINE_BREAK_RE = /\r\n|[\r\u2028\u2029\x85]/g;

/** Windows-1252 for bytes 0x80..0x9f; "sloppy": undefined bytes decode to the same code point. */
const CP1252_C1 =
  '\u20ac\x81\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\x8d\u017d\x8f' +
  '\x90\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\x9d\u017e\u0178';

const LIGATURES: Record<string, string> = {
  '\u0132': 'IJ', '\u0133': 'ij', '\u0149': '\u02bcn',
  '\u01f1': 'DZ', '\u01f2': 'Dz', '\u01f3': 'dz', '\u01c4': 'D\u017d', '\u01c5': 'D\u017e', '\u01c6': 'd\u017e',
  '\u01c7': 'LJ', '\u01c8': 'Lj', '\u01c9': 'lj', '\u01ca': 'NJ', '\u01cb': 'Nj', '\u01cc': 'nj',
  '\ufb00': 'ff', '\ufb01': 'fi', '\ufb02': 'fl', '\ufb03': 'ffi', '\ufb04': 'ffl', '\ufb05': '\u017ft', '\ufb06': 'st',
};
const LIGATURE_RE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'g');

/** U+3000 and every Halfwidth/Fullwidth Form (U+FF01..U+FFEF) whose NFKC form differs. */
const WIDTH_MAP: Map<string, string> = (() => {
  const map = new Map<string, string>([['\u3000', ' ']]);
  for (let cp = 0xff01; cp < 0xfff0; cp++) {
    const ch = String.fromCharCode(cp);
    const alt = ch.normalize('NFKC');
    if (alt !== ch) map.set(ch, alt);
  }
  return map;
})();
const WIDTH_RE = /[\u3000\uff01-\uffef]/g;

/** Numeric references the way Python's `html.unescape` decodes them (`_replace_charref`). */
function decodeCharRef(body: string): string | undefined {
  let num: number;
  if (/^#[xX][0-9a-fA-F]+$/.test(body)) num = parseInt(body.slice(2), 16);
  else if (/^#[0-9]+$/.test(body)) num = parseInt(body.slice(1), 10);
  else return undefined;
  if (num === 0) return '\ufffd';
  if (num === 0x0d) return '\r';
  if (num >= 0x80 && num <= 0x9f) return CP1252_C1[num - 0x80];
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff || !Number.isFinite(num)) return '\ufffd';
  if (
    (num >= 0x1 && num <= 0x8) || num === 0xb || (num >= 0xe && num <= 0x1f) || num === 0x7f ||
    (num >= 0xfdd0 && num <= 0xfdef) || (num & 0xfffe) === 0xfffe
  ) {
    return '';
  }
  return String.fromCodePoint(num);
}

export function unescapeHtml(text: string): string {
  return text.replace(HTML_ENTITY_RE, (entity) => {
    const body = entity.slice(1, -1);
    const named = HTML_ENTITIES[body];
    if (named !== undefined && Object.hasOwn(HTML_ENTITIES, body)) return named;
    if (body.startsWith('#')) return decodeCharRef(body) ?? entity;
    return entity;
  });
}

function fixOnce(text: string, unescape: boolean): string {
  let t = text;
  if (unescape) t = unescapeHtml(t);
  t = t.replace(C1_CONTROL_RE, (c) => CP1252_C1[c.charCodeAt(0) - 0x80]);
  t = t.replace(LIGATURE_RE, (c) => LIGATURES[c]);
  t = t.replace(WIDTH_RE, (c) => WIDTH_MAP.get(c) ?? c);
  t = t.replace(DOUBLE_QUOTE_RE, '"').replace(SINGLE_QUOTE_RE, "'");
  t = t.replace(LINE_BREAK_RE, '\n');
  t = t.replace(LONE_SURROGATE_RE, '\ufffd');
  t = t.replace(ANSI_RE, '');
  t = t.replace(CONTROL_CHARS_RE, '');
  return t.normalize('NFC');
}

/** `ftfy.fix_text(text)` minus mojibake repair (see the module comment). */
export function fixText(text: string): string {
  let unescape = true;
  let out = '';
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl + 1;
    let segment = text.slice(pos, end);
    // ftfy's 'auto' HTML mode: once a segment contains '<' the text is taken to be HTML-ish and
    // entities are left alone for that segment and all later ones.
    if (segment.includes('<')) unescape = false;
    for (let i = 0; i < 16; i++) {
      const fixed = fixOnce(segment, unescape);
      if (fixed === segment) break;
      segment = fixed;
    }
    out += segment;
    pos = end;
  }
  return out;
}
