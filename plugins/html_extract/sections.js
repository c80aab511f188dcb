// Which part of a page a line of its text stands in: the heading above it
// (an h1-h6, or an accordion's summary). A church's or a community
// center's page gives other programs' times beside the pantry's (worship,
// the office, a youth group, a clothing closet) and times for something
// else than coming for food (sign-ups, volunteering, donations); those are
// not its hours.

// A heading or a line that speaks of another program than the pantry.
const OTHER_PROGRAM = /\b(?:office|worship|services? times|mass(?:es)?|youth|choir|bible|sunday school|clothing|clothes|thrift|furniture|rummage|sign[- ]?ups?|register|registration|volunteers?|donations?|deadline)\b/i;

/** The texts of the page's headings and accordion summaries, as the
 * page's text gives them (`inline`: an element's HTML as one line). */
export function headingTexts(html, inline) {
  const found = new Set();
  for (const m of html.matchAll(/<(h[1-6]|summary)\b[^>]*>([\s\S]*?)<\/\1\s*>/gi)) {
    const t = inline(m[2]);
    if (t) found.add(t);
  }
  return found;
}

/** Hours lines (`[line, section]`: the line and the heading above it)
 * without another program's, when any line is the pantry's. */
export function pantryHours(lines) {
  const other = ([line, section]) => OTHER_PROGRAM.test(line) || OTHER_PROGRAM.test(section);
  const own = lines.filter((l) => !other(l));
  return (own.length ? own : lines).map(([line]) => line);
}

// A pantry's name in a sentence: capitalised words (and the words that
// join them) ending in a pantry's word.
const NAMED_PANTRY = /\b((?:[A-Z][\w'’.&-]*[ \t]+(?:(?:of|the|de|la)[ \t]+)?){1,5}(?:Pantry|PANTRY|Cupboard|CUPBOARD|Closet|CLOSET|Food Shelf|FOOD SHELF|Kitchen|KITCHEN))\b/;

/** The first pantry the page's text names ("The Lighthouse Food Pantry
 * is open ..."), without a leading "The"; null when none has a word of
 * its own ("Food Pantry", "The Pantry"). */
export function textPantryName(text) {
  const m = NAMED_PANTRY.exec(text);
  if (!m) return null;
  const name = m[1].replace(/^the\s+/i, "");
  const own = name.split(/\s+/).some((w) => !/^(?:food|community|emergency|free|pantry|cupboard|closet|shelf|kitchen|of|the|de|la)$/i.test(w));
  return own ? name : null;
}
