// Helpers that edit a query string the way a user would: add a filter,
// remove it again, replace the date filter. They never need to be perfect —
// the server parses the result and names any problem.

/** Split a query into top-level tokens, keeping "quoted phrases" and (groups) whole. */
export function tokens(q) {
  const out = [];
  let cur = '';
  let inQuote = false;
  let depth = 0;
  for (const ch of String(q || '')) {
    if (ch === '"') inQuote = !inQuote;
    else if (!inQuote && ch === '(') depth++;
    else if (!inQuote && ch === ')' && depth > 0) depth--;
    if (!inQuote && depth === 0 && /\s/.test(ch)) {
      if (cur) out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

/** `field:value`, quoting the value when it holds spaces or syntax characters. */
export function term(field, value) {
  const v = String(value);
  if (/^[^\s()"]+$/.test(v) && !/^-/.test(v)) return `${field}:${v}`;
  return `${field}:"${v.replace(/"/g, '')}"`;
}

const norm = (t) => t.toLowerCase();

export function hasTerm(q, t) {
  return tokens(q).some((x) => norm(x) === norm(t));
}

export function removeTerm(q, t) {
  return tokens(q).filter((x) => norm(x) !== norm(t)).join(' ');
}

/** Add a filter ANDed to the whole query (wrapping it in parentheses if it has a top-level OR). */
export function addTerm(q, t) {
  q = String(q || '').trim();
  if (!q) return t;
  if (hasTerm(q, t)) return q;
  const toks = tokens(q);
  if (toks.some((x) => x === 'OR')) return `(${q}) ${t}`;
  return `${q} ${t}`;
}

const DATE_TOKEN = /^(date|after|before):/i;

/** Replace any top-level date:/after:/before: filter by `date:<period>`. */
export function setDate(q, period) {
  const toks = tokens(q);
  const hasOr = toks.some((x) => x === 'OR');
  const rest = hasOr ? String(q || '').trim() : toks.filter((x) => !DATE_TOKEN.test(x)).join(' ');
  return addTerm(rest, `date:${period}`);
}

/** The period of a top-level date: filter, if there is exactly one. */
export function currentDate(q) {
  const ds = tokens(q).filter((x) => /^date:/i.test(x));
  return ds.length === 1 ? ds[0].slice(5) : null;
}

/** Top-level field filters (for "remove this filter" hints). */
export function filters(q) {
  return tokens(q).filter((x) => /^-?[a-z]+:\S/i.test(x) && !/^https?:/i.test(x));
}
