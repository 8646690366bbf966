// A tiny HTML/SVG builder in which text is escaped by construction: plain strings given as children or
// attribute values are always escaped, and only Markup made by `h` (or `trusted` for the page's own CSS
// and script) is inserted as it is. Unit names and paths come from files, so nothing from a report can
// ever become markup.

export class Markup {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html;
  }
}

export type Child = Markup | string | number | null | undefined | false | readonly Child[];
export type AttrValue = string | number | boolean | null | undefined;
export type Attrs = Readonly<Record<string, AttrValue>>;

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text safe in element content and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** HTML elements that have no end tag. */
const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link', 'col', 'wbr']);
/** SVG elements written self-closed when empty, to keep big charts small. */
const SVG_EMPTY = new Set(['rect', 'line', 'circle', 'path', 'polyline', 'polygon', 'stop', 'use']);
const NAME = /^[a-zA-Z][a-zA-Z0-9:-]*$/;

/** `<tag attrs>children</tag>`; false, null and undefined attributes and children are left out. */
export function h(tag: string, attrs: Attrs = {}, ...children: Child[]): Markup {
  if (!NAME.test(tag)) throw new Error(`markup: bad tag name ${JSON.stringify(tag)}`);
  let open = `<${tag}`;
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (!NAME.test(name)) throw new Error(`markup: bad attribute name ${JSON.stringify(name)}`);
    open += value === true ? ` ${name}` : ` ${name}="${escapeHtml(String(value))}"`;
  }
  const inner = render(children);
  if (VOID.has(tag)) return new Markup(`${open}>`);
  if (inner === '' && SVG_EMPTY.has(tag)) return new Markup(`${open}/>`);
  return new Markup(`${open}>${inner}</${tag}>`);
}

/** Children side by side, with no element around them. */
export function fragment(...children: Child[]): Markup {
  return new Markup(render(children));
}

/** Markup written by this module's callers themselves (the page's CSS and script), never report data. */
export function trusted(html: string): Markup {
  return new Markup(html);
}

function render(children: readonly Child[]): string {
  let out = '';
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (c instanceof Markup) out += c.html;
    else if (Array.isArray(c)) out += render(c);
    else out += escapeHtml(String(c));
  }
  return out;
}
