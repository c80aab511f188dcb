// Pure functions: HTML of a pantry's web page -> clean text and the obvious
// fields. No DOM, no dependencies: it runs the same in the component and in
// node, and never fetches anything.

import { cloudflareEmail, dataIsland, hCard, mapQueries, metaTags, openGraphContact, postalStates } from "./sources.js";
import { headingTexts, pantryHours, textPantryName } from "./sections.js";

const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " ", ndash: "–", mdash: "—", rsquo: "’", lsquo: "‘", rdquo: "”", ldquo: "“", hellip: "…", middot: "·", bull: "•", copy: "©", reg: "®", trade: "™", eacute: "é", aacute: "á", iacute: "í", oacute: "ó", uacute: "ú", ntilde: "ñ" };

export function decode(text) {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, code) => {
    if (code[0] === "#") {
      const n = code[1].toLowerCase() === "x" ? parseInt(code.slice(2), 16) : parseInt(code.slice(1), 10);
      return Number.isFinite(n) && n > 0 && n < 0x110000 ? String.fromCodePoint(n) : whole;
    }
    return ENTITIES[code] ?? accented(code) ?? ENTITIES[code.toLowerCase()] ?? whole;
  });
}

// Accented letters by mark and letter, written out: the component's
// JavaScript has no Unicode normalization to compose them.
const ACCENTS = {
  acute: { a: "á", e: "é", i: "í", o: "ó", u: "ú", y: "ý", A: "Á", E: "É", I: "Í", O: "Ó", U: "Ú", Y: "Ý" },
  grave: { a: "à", e: "è", i: "ì", o: "ò", u: "ù", A: "À", E: "È", I: "Ì", O: "Ò", U: "Ù" },
  circ: { a: "â", e: "ê", i: "î", o: "ô", u: "û", A: "Â", E: "Ê", I: "Î", O: "Ô", U: "Û" },
  uml: { a: "ä", e: "ë", i: "ï", o: "ö", u: "ü", y: "ÿ", A: "Ä", E: "Ë", I: "Ï", O: "Ö", U: "Ü" },
  tilde: { a: "ã", o: "õ", n: "ñ", A: "Ã", O: "Õ", N: "Ñ" },
  cedil: { c: "ç", C: "Ç" },
  ring: { a: "å", A: "Å" },
};

/** A letter's accent entity ("agrave", "Eacute", "ccedil") as the letter. */
function accented(name) {
  const m = /^([a-z])(acute|grave|circ|uml|tilde|cedil|ring)$/i.exec(name);
  return m ? ACCENTS[m[2].toLowerCase()][m[1]] ?? null : null;
}

/** Visible text, one block element a line. */
export function toText(html) {
  let t = html.replace(/<!--[\s\S]*?-->/g, " ");
  t = t.replace(/<(script|style|noscript|template|svg|head)\b[\s\S]*?<\/\1\s*>/gi, " ");
  t = t.replace(/<table\b[^>]*>([\s\S]*?)<\/table\s*>/gi, (whole, inner) => {
    const rows = tableRows(inner);
    const lines = dayColumns(rows) ?? rowLines(rows);
    return lines.length ? `<br>${lines.join("<br>")}<br>` : whole;
  });
  // A flyer's picture that says the hours in its alt text.
  t = t.replace(/<img\b[^>]*\balt=["']([^"']+)["'][^>]*>/gi, (tag, alt) => (HOURS_LINE.test(alt) ? `<br>${alt}<br>` : tag));
  t = t.replace(/<br\s*\/?>/gi, "\n");
  t = t.replace(/<\/?(p|div|li|ul|ol|tr|table|section|article|header|footer|h[1-6]|address|dt|dd|nav|main)\b[^>]*>/gi, "\n");
  t = t.replace(/<[^>]+>/g, " ");
  t = decode(t);
  return t
    .split("\n")
    // Zero-width spaces and joiners (an editor's leftovers) are no text.
    .map((line) => line.replace(/[\u200b-\u200d\ufeff]/g, "").replace(/[ \t\r\f\v\u00a0]+/g, " ").trim())
    .filter((line) => line.length > 0)
    .join("\n");
}

/** An element's inner HTML as one line of text: tags gone, entities
 * decoded, white space one space. */
function inlineText(html) {
  return decode(html.replace(/<[^>]+>/g, " ")).replace(/\s+/g, " ").trim();
}

/** A table's rows, each the text of its cells. */
function tableRows(table) {
  return [...table.matchAll(/<tr\b[^>]*>([\s\S]*?)<\/tr\s*>/gi)]
    .map((r) => [...r[1].matchAll(/<t[hd]\b[^>]*>([\s\S]*?)<\/t[hd]\s*>/gi)].map((c) => inlineText(c[1])));
}

/** A week table with the days as columns (a first row of day names, the
 * rows below giving each day's hours in its column) as one line a day
 * ("Tue 9am-12pm"); null for any other table. */
function dayColumns(rows) {
  const [head, ...body] = rows;
  const dayCell = new RegExp("^" + DAY + "$", "i");
  const columns = head && head.length >= 2 && head.every((h) => dayCell.test(h))
    && body.length > 0 && body.every((r) => r.length === head.length);
  return columns ? head.map((day, i) => `${day} ${body.map((r) => r[i]).join(" ")}`) : null;
}

/** A table's rows as lines, cells parted by a space and two clock times
 * side by side ("Tuesday | 9:00 AM | 12:00 PM") made a range. */
function rowLines(rows) {
  const time = /^(?:\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)?|noon)$/i;
  return rows.map((cells) => cells.reduce((line, cell, i) => {
    const range = i > 0 && time.test(cell) && time.test(cells[i - 1]) && (i < 2 || !time.test(cells[i - 2]));
    return line === "" ? cell : `${line}${range ? " - " : " "}${cell}`;
  }, ""));
}

function firstMatch(re, text) {
  const m = re.exec(text);
  return m ? decode(m[1]).replace(/\s+/g, " ").trim() : null;
}

function jsonLd(html) {
  const found = [];
  const re = /<script[^>]*type=["']application\/ld\+json["'][^>]*>([\s\S]*?)<\/script>/gi;
  let m;
  while ((m = re.exec(html)) !== null) {
    try {
      const v = JSON.parse(m[1]);
      const items = Array.isArray(v) ? v : v["@graph"] ? v["@graph"] : [v];
      for (const item of items) if (item && typeof item === "object") found.push(item);
    } catch (_) {
      // Broken JSON-LD is common; the page text still gets read.
    }
  }
  return found;
}

// An area code never starts with 0 or 1.
// A hyphen may be any of Unicode's (a non-breaking one from "&#8209;") or an
// en dash; spaces may stand around it ("(812) 555 - 0144").
const PHONE = /(?:\+?1[\s.\u2010-\u2013-]?)?\(?\b([2-9]\d{2})\)?(?:[ \t]*[./\u2010-\u2013-][ \t]*|[ \t]+)?(\d{3})(?:[ \t]*[.\u2010-\u2013-][ \t]*|[ \t])(\d{4})\b/;
const EMAIL = /\b([A-Z0-9._%+-]+@[A-Z0-9.-]+\.[A-Z]{2,})\b/i;
const STREET = "(?:broadway|street|st|avenue|ave|road|rd|boulevard|blvd|drive|dr|lane|ln|way|pike|highway|hwy|court|ct|place|pl|parkway|pkwy|circle|cir|terrace|ter|trail|trl|plaza|plz|square|sq|loop|turnpike|tpke|route|rte|center|ctr|crossing|xing|alley|row|run|path|point|pt)";
// "45 Elm Street, Westfield, NJ 07090": a street by its suffix.
const ADDRESS = new RegExp("(?<![:\\d])\\b(\\d{1,6}[ \\t]+[A-Za-z0-9 .'-]{2,40}?\\s" + STREET + "\\.?(?:,?\\s*(?:suite|ste|unit|#)\\s*[A-Za-z0-9-]+)?,?\\s+[A-Za-z .'-]{2,30},?\\s+[A-Z]{2}\\s+\\d{5}(?:-\\d{4})?)", "i");
// "500 Calle Sol, Laredo, TX 78040", "1 Church Plaza<br>Smalltown, OH
// 45000": a numbered line before "City, ST 12345", whatever the street is
// called.
const ADDRESS_BY_ZIP = /(?<![:\d])\b(\d{1,6}[ \t]+[A-Za-z][^\n,;:]{1,40}?)\s*(?:,\s*|\n\s*)([A-Za-z][A-Za-z .'-]{1,29}?)\s*,?\s+([A-Z]{2})\s+(\d{5}(?:-\d{4})?)\b/;
// Day words in English, Spanish and French, and runs of days written as
// letters.
// A day as it is spelled or cut short ("Thurs.", "Weds"), not a word that
// starts like one ("Monterey", "Sunset", "Friendship").
const DAY = "(?:(?:mon(?:day)?s?|tue(?:s(?:day)?)?s?|wed(?:nesday)?s?|thu(?:r(?:s(?:day)?)?)?s?|fri(?:day)?s?|sat(?:urday)?s?|sun(?:day)?s?)\\.?|lunes|martes|mi[ée]rcoles|jueves|viernes|s[áa]bados?|domingos?|(?:lun|mar|mercre|jeu|vendre|same)dis?|dimanches?|m[-–/]f|m[-–]th|mwf|tth|daily|weekdays)";
const HOURS_LINE = new RegExp("\\b" + DAY + "(?![a-z]).*\\d{1,2}(?::\\d{2})?\\s*(?:am|pm|a\\.m\\.|p\\.m\\.)?", "i");
// Headings that name the page, not the pantry.
const GENERIC = /^(?:welcome!?|home|faq|frequently asked questions|about(?: us)?|(?:our )?(?:programs|ministries)|outreach|contact(?: us| information)?|(?:our |pantry )?hours(?: of operation)?|location|locations|(?:hours|location|locations) (?:&|and) (?:hours|location|locations)|services|menu|news|events|calendar|schedule|directions|donate|volunteer|get help|find food|get food|need food|find help|food assistance|visit(?: us)?|food distributions?|distribution)$/i;
// A word that names a place giving out food.
const PANTRY_WORD = /\b(?:pantry|food|closet|cupboard|shelf|kitchen|market|mission|ministr(?:y|ies))\b/i;
// A heading that names only the program, not whose it is.
const PROGRAM = /^(?:(?:community |emergency )?food (?:pantry|bank|shelf|closet|cupboard)|pantry|soup kitchen)$/i;
// A line that names days and nothing else ("Tuesday", "Mon & Wed:"): the
// time is on the next line.
const DAYS_ONLY = new RegExp(
  "^(?:(?:hours|open|opening hours|distribution|pantry)\\s*:?\\s*)?(?:(?:every|each|on|the)\\s+)?"
  + "(?:(?:\\d(?:st|nd|rd|th)|first|second|third|fourth|fifth|last)\\s*(?:,|&|and)?\\s*)*"
  + "(?:" + DAY + "(?![a-z])\\s*(?:,|&|and|-|–|to|through)?\\s*)+(?:of (?:each|the|every) month)?:?$", "i");
// A label on a line of its own ("Time:", "Hours:").
// "Monday, September 9, 2024": a post's date, not an opening.
const DATE_ONLY = /^[a-z]+day,?\s+[a-z]+\.?\s+\d{1,2}(?:st|nd|rd|th)?,?(?:\s+\d{4})?$/i;
// A toll-free area code: 800, 833-888; a line holding such a number
// ("1-800-555-0100", "(888) 555-0100").
const TOLL_FREE_AREA = "8(?:00|33|44|55|66|77|88)";
const TOLL_FREE = new RegExp(`(?:^|[^\\d])(?:1[\\s.-]?)?\\(?${TOLL_FREE_AREA}\\)?[\\s.-]?\\d{3}[\\s.-]?\\d{4}\\b`);
// A toll-free number's ten digits.
const TOLL_FREE_DIGITS = new RegExp(`^${TOLL_FREE_AREA}\\d{7}$`);
// "© 2024 Foster's Daily Herald, 150 Venture Dr": a site's owner, not hours.
const COPYRIGHT = /^(?:©|\(c\)|copyright\b)/i;
const LABEL_ONLY = /^[A-Za-z][A-Za-z ]{0,24}:$/;
const TIME_RANGE = /\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.|a|p)?\s*(?:-|–|—|to|until)\s*(?:\d{1,2}(?::\d{2})?|noon)/i;
// "25080 Hwy 172, Olivia, TX", "411 Cedar Street<br>Smalltown, KS": a
// numbered street, a city and a state code with no ZIP code after them.
const ADDRESS_NO_ZIP = /(?<![:\d])\b(\d{1,6}[ \t]+[A-Za-z0-9][^\n,;:]{1,40}?)(?:,[ \t]*|[ \t]*\n[ \t]*)([A-Za-z][A-Za-z .'-]{1,29}?),\s*([A-Z]{2})\b(?!\s*\d)/;
// "450 Main St, Kokomo, Indiana 46901": a state's name where its code
// would be.
const STATE_NAMES = "alabama|alaska|arizona|arkansas|california|colorado|connecticut|delaware|district of columbia|florida|georgia|hawaii|idaho|illinois|indiana|iowa|kansas|kentucky|louisiana|maine|maryland|massachusetts|michigan|minnesota|mississippi|missouri|montana|nebraska|nevada|new hampshire|new jersey|new mexico|new york|north carolina|north dakota|ohio|oklahoma|oregon|pennsylvania|puerto rico|rhode island|south carolina|south dakota|tennessee|texas|utah|vermont|virginia|washington|west virginia|wisconsin|wyoming";
const ADDRESS_STATE_NAME = new RegExp("(?<![:\\d])\\b(\\d{1,6}[ \\t]+[A-Za-z0-9 .'-]{2,40}?\\s" + STREET + "\\.?,?\\s+[A-Za-z .'-]{2,30}?,?\\s+(?:" + STATE_NAMES + ")\\s+\\d{5}(?:-\\d{4})?)\\b", "i");
// "55 Depot Street in Bristol, VT": "in" before the city is a sentence's.
const IN_CITY = new RegExp("(\\s" + STREET + "\\.?),?\\s+in\\s+(?=[A-Z])", "i");
const STATES = new Set("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA PR RI SC SD TN TX UT VT VA WA WV WI WY".split(" "));
// "pantry [at] example [dot] org": an address written so robots miss it.
const EMAIL_SPELLED = /\b([A-Z0-9._%+-]+)\s*[[(]\s*at\s*[\])]\s*([A-Z0-9-]+(?:\s*[[(]\s*dot\s*[\])]\s*[A-Z0-9-]+)+)\b/i;

/** schema.org microdata (`itemprop="streetAddress"`): each property's
 * first value, from the element's text or a `content` attribute. */
function microdata(html) {
  const found = {};
  const re = /<([a-z0-9]+)\b[^>]*\bitemprop=["']([A-Za-z]+)["'][^>]*>/gi;
  let m;
  while ((m = re.exec(html)) !== null) {
    const prop = m[2];
    if (prop in found) continue;
    const content = /\bcontent=["']([^"']*)["']/i.exec(m[0]);
    let value = content ? content[1] : null;
    if (value === null) {
      const close = html.indexOf(`</${m[1]}`, re.lastIndex);
      if (close < 0) continue;
      value = html.slice(re.lastIndex, close).replace(/<[^>]+>/g, " ");
    }
    value = decode(value).replace(/\s+/g, " ").trim();
    if (value) found[prop] = value;
  }
  return found;
}

/** The page's own name: the first heading that is not a generic one
 * ("Welcome", "Home"), else og:site_name, else the title's part that is
 * not generic ("Home | Grace Food Pantry"); a heading that names only the
 * program ("Food Pantry") after the organization's name ("Grace Church
 * Food Pantry"); a pantry the text names ("The Lighthouse Food Pantry is
 * open ...") over an h1 that names none (a blog's or a town's). */
function pageName(html, text) {
  const headings = [];
  // h1 to h3, and an accordion's summary ("s").
  const re = /<(h[123]|summary)\b[^>]*>([\s\S]*?)<\/\1\s*>/gi;
  let m;
  while ((m = re.exec(html)) !== null) {
    // A heading that is the site's logo: the image's alt text.
    const text = inlineText(m[2]) || firstMatch(/<img\b[^>]*\balt=["']([^"']+)["']/i, m[2]);
    if (text) headings.push([m[1].toLowerCase() === "summary" ? "s" : m[1].slice(1), text]);
  }
  // A handle ("@troyhopepantry") or a file's name ("flyer-2024.pdf") names
  // no place.
  const useful = (t) => t && !GENERIC.test(t) && !/^@\w|\.(?:pdf|docx?|html?|jpe?g|png)$/i.test(t);
  // "Welcome to Hope Food Pantry!": the name without the greeting.
  for (const h of headings) h[1] = h[1].replace(/^welcome to (?:the )?(.+?)!?$/i, "$1");
  const site = firstMatch(/<meta[^>]+property=["']og:site_name["'][^>]+content=["']([^"']+)/i, html);
  const title = firstMatch(/<title[^>]*>([\s\S]*?)<\/title>/i, html);
  const parts = title?.split(/\s+[|–—-]\s+|\s*[|:]\s*/).map((p) => p.trim()) ?? [];
  let h1 = headings.find(([level, t]) => level === "1" && useful(t));
  // "Feeding hope since 1985" over a site named "Hilltop Community Food
  // Pantry": a slogan, when the site's name names a pantry and it does not.
  const pantrySite = [site, ...parts].find((t) => useful(t) && PANTRY_WORD.test(t) && !PROGRAM.test(t) && titled(t));
  if (h1 && !PANTRY_WORD.test(h1[1]) && pantrySite && !headings.some(([l, t]) => l === "2" && PROGRAM.test(t))) {
    h1 = ["1", pantrySite];
  }
  if (h1 && PROGRAM.test(h1[1])) {
    // "Food Pantry" under "Grace Church": the organization's name first.
    const own = (t) => useful(t) && !PROGRAM.test(t);
    const org = (site && own(site) ? site : null) ?? parts.find(own)
      ?? headings.find(([level, t]) => level === "2" && own(t))?.[1];
    if (org) return `${org} ${h1[1]}`;
  }
  // An event's page ("Free Food Giveaway"): the pantry hosting it.
  const host = /\b(?:[Hh]osted|[Oo]rganized|[Pp]resented) by:?[ \t]+([A-Z][^\n·|,]{2,60})/.exec(text)?.[1].trim();
  if (h1 && host && PANTRY_WORD.test(host) && !/\b(?:pantry|shelf|cupboard|closet)\b/i.test(h1[1])) return host;
  // "Grace Church" over a section "Food Pantry": the church's pantry.
  const program = headings.find(([level, t]) => level === "2" && PROGRAM.test(t));
  if (h1 && program && !PANTRY_WORD.test(h1[1])) return `${h1[1]} ${program[1]}`;
  // (An h1 written as a sentence, a headline's "Oak Street Pantry expands
  // hours", gives way too.)
  if (h1 && !(PANTRY_WORD.test(h1[1]) && titled(h1[1]))) return textPantryName(text) ?? h1[1];
  if (h1) return h1[1];
  // No h1: a heading that names a pantry ("St. Luke's Community Pantry")
  // before a title that names the page ("Pantry Hours - St. Luke's").
  const named = headings.find(([, t]) => useful(t) && PANTRY_WORD.test(t) && !PROGRAM.test(t));
  if (named) return named[1];
  if (site) return site;
  const part = parts.find(useful);
  if (part) return part;
  return headings.find(([, t]) => useful(t))?.[1] ?? textPantryName(text);
}

function formatPhone(m) {
  return m ? `(${m[1]}) ${m[2]}-${m[3]}` : null;
}

/** schema.org's `openingHoursSpecification` ([{dayOfWeek, opens, closes}],
 * days as names or as `https://schema.org/Monday`) as "Monday 09:00-12:00"
 * lines; null when there is none. */
function openingSpecification(spec) {
  const items = Array.isArray(spec) ? spec : spec && typeof spec === "object" ? [spec] : [];
  const lines = items
    .filter((s) => s && typeof s === "object" && typeof s.opens === "string" && typeof s.closes === "string")
    .map((s) => {
      const days = (Array.isArray(s.dayOfWeek) ? s.dayOfWeek : [s.dayOfWeek])
        .filter((d) => typeof d === "string")
        .map((d) => d.replace(/^https?:\/\/schema\.org\//i, ""));
      const time = (t) => t.replace(/^(\d{2}:\d{2}):\d{2}$/, "$1");
      return `${days.join(", ")} ${time(s.opens)}-${time(s.closes)}`.trim();
    });
  return lines.length ? lines.join("; ") : null;
}

/** Whether a text is written as a name: each word capitalised, or one
 * that joins a name's words ("House of Hope"); not a sentence or a post's
 * title ("Pantry schedule for the fall"). */
function titled(t) {
  return t.split(/\s+/).every((w) => /^[^a-z]/.test(w) || /^(?:of|the|and|at|de|la|del|for|in|on)$/.test(w));
}

/** The text's lines that give opening hours: a day and a time on one
 * line, or a line of days alone joined to the time range on the next;
 * not another program's beside the pantry's (`sections.js`). */
function hoursLines(text, headings) {
  const lines = text.split("\n");
  const out = [];
  let section = "";
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (headings.has(line)) section = line;
    // "Tuesday & Friday", "Time:", "10:00 AM to 1:00 PM": a label alone
    // between the days and the time.
    const j = LABEL_ONLY.test(lines[i + 1] ?? "") && !DAYS_ONLY.test(lines[i + 1]) ? i + 2 : i + 1;
    const next = lines[j];
    if (DAYS_ONLY.test(line) && next !== undefined && TIME_RANGE.test(next) && !HOURS_LINE.test(next)) {
      out.push([`${line.replace(/:$/, "")} ${next}`, section]);
      i = j;
    } else if (HOURS_LINE.test(line) && line.length < 200 && !DATE_ONLY.test(line) && !COPYRIGHT.test(line)) {
      out.push([hoursPart(line), section]);
    }
  }
  return pantryHours(out);
}

// A bar or a bullet with spaces around it: what parts a line's parts.
const PART_BAR = /[ \t]+[•·∙|][ \t]+/g;

/** "📍 12 Oak St, Troy NY 12180 | 🕐 Tue/Thu 10-12 | ☎ 518-555-0101": of a
 * line parted by bars or bullets, the parts that read as hours, without
 * the marks before them. */
function hoursPart(line) {
  const parts = line.split(PART_BAR);
  const hours = parts.filter((p) => HOURS_LINE.test(p)).map((p) => p.replace(/^[^A-Za-z0-9\u00c0-\u024f]+/, ""));
  return hours.length > 0 && hours.length < parts.length ? hours.join("; ") : line;
}

/** The place's phone in the text: the first number on a line that is not
 * a fax's, and not a hotline's or a food bank's when another is given. */
function textPhone(text) {
  // "Call 304-555-0119. Fax: 304-555-0120.": the fax's number is not the
  // line's.
  const lines = text.split("\n")
    .map((l) => l.replace(/\bfax\b[^\d\n]{0,12}[+\d(][\d\s().-]{9,}/gi, " "))
    .filter((l) => PHONE.test(l) && !/\bfax\b/i.test(l));
  // "Main office: ... / Pantry line: ...": the pantry's own line first.
  // (A helpline's, and a toll-free number, are no place's own.)
  const local = lines.filter((l) => !/hotline|helpline|food bank|toll[- ]free/i.test(l) && !TOLL_FREE.test(l));
  const own = local.find((l) => /pantry/i.test(l) && !/office/i.test(l)) ?? local[0] ?? lines[0];
  return own ? PHONE.exec(own) : null;
}

/** The place's own `tel:` link: the first not beside "hotline", "food
 * bank" or "toll-free" words and not a toll-free number, when another is
 * given; else the first. */
function ownTelLink(html) {
  const links = [...html.matchAll(/href=["']tel:([^"']+)["']/gi)].map((m) => ({
    number: decode(m[1]).trim(),
    before: html.slice(Math.max(0, m.index - 80), m.index).replace(/<[^>]+>/g, " "),
  }));
  const tollFree = (n) => TOLL_FREE_DIGITS.test(n.replace(/\D/g, "").replace(/^1(?=\d{10}$)/, ""));
  const own = links.find((l) => !/hotline|food bank|toll[- ]free/i.test(l.before) && !tollFree(l.number));
  return (own ?? links[0])?.number ?? null;
}

/** `itemprop="openingHours"` values (`content` attributes, as schema.org
 * microdata gives them: "Tu,Th 10:00-12:00"), joined; null when none. */
function microdataHours(html) {
  const found = [...html.matchAll(/<[a-z]+\b[^>]*\bitemprop=["']openingHours["'][^>]*>/gi)]
    .map((m) => /\bcontent=["']([^"']+)["']/i.exec(m[0])?.[1])
    .filter(Boolean)
    .map((v) => decode(v).trim());
  return found.length ? found.join("; ") : null;
}

/** A `tel:` link's number, written any way ("+15155550123", "515-555-0123"). */
function telNumber(href) {
  const digits = (href ?? "").replace(/\D/g, "").replace(/^1(?=\d{10}$)/, "");
  return digits.length === 10 ? PHONE.exec(`${digits.slice(0, 3)}-${digits.slice(3, 6)}-${digits.slice(6)}`) : null;
}

/** The first address with a street, a city and a state code but no ZIP
 * code, as "street, City, ST". */
function addressWithoutZip(text) {
  const m = ADDRESS_NO_ZIP.exec(text);
  return m && STATES.has(m[3]) ? `${m[1].trim()}, ${m[2].trim()}, ${m[3]}` : null;
}

/** The address on the line that names the page's pantry ("The Oak Street
 * Pantry, 14 Oak St., Dover, N.H., will ..."), before one elsewhere on the
 * page (a publisher's in the footer); null when no such line gives one. */
function namedLineAddress(parted, name) {
  if (!name) return null;
  const lines = parted.split("\n").filter((l) => l.includes(name)).map(postalStates);
  return lines.map((l) => oneLine(ADDRESS.exec(l)?.[1]) ?? addressWithoutZip(l)).find(Boolean) ?? null;
}

/** An address found across lines as one line: "street, City, ST ZIP",
 * without the sentence's "in" before the city. */
function oneLine(address) {
  return address
    ? address.replace(/\s*\n\s*/g, ", ").replace(/\s+/g, " ").replace(/\s+,/g, ",").replace(IN_CITY, "$1, ")
    : null;
}

/** An address given in labelled lines ("Street: ...", "City: ...",
 * "State: TX", "Zip: 78613") as "street, City, ST ZIP". */
function labelledAddress(text) {
  const line = (label) => new RegExp(`^(?:${label})\\s*:\\s*(.+)$`, "im").exec(text)?.[1].trim();
  const street = line("street(?: address)?|address(?: line 1)?");
  const city = line("city");
  const state = line("state")?.toUpperCase();
  const zip = line("zip(?: code)?|postal code")?.match(/^\d{5}(?:-\d{4})?/)?.[0];
  if (!street || !/^\d/.test(street) || !city || !STATES.has(state)) return null;
  return `${street}, ${city}, ${[state, zip].filter(Boolean).join(" ")}`;
}

/** The email address in the text, written plainly or spelled out. */
function textEmail(text) {
  const plain = EMAIL.exec(text)?.[1];
  if (plain) return plain;
  const m = EMAIL_SPELLED.exec(text);
  return m ? `${m[1]}@${m[2].replace(/\s*[[(]\s*dot\s*[\])]\s*/gi, ".")}` : null;
}

/** Whether structured data describes an organization whose name names no
 * pantry while the page's own name does, and the page's text gives an
 * address of its own that is not the data's street: the site's office. */
function officeOnly(data, own, textAddress) {
  const street = typeof data.address === "object" ? data.address?.streetAddress : data.address;
  return typeof data.name === "string" && !PANTRY_WORD.test(data.name) && Boolean(own) && PANTRY_WORD.test(own)
    && Boolean(textAddress) && typeof street === "string" && !textAddress.startsWith(street);
}

/** The page's text and fields; `missing` names the fields not found. */
export function extract(html) {
  const text = toText(html);
  // An event's place is its location's ("@type": "Event"); its name is the
  // event's, not the pantry's.
  const found = jsonLd(html)
    .map((x) => (x["@type"] === "Event" && x.location?.address ? { address: x.location.address } : x))
    .find((x) => x.address || x.telephone || x.openingHours || x.openingHoursSpecification)
    ?? dataIsland(html) ?? {};
  const own = pageName(html, text);
  const md = microdata(html);
  const card = hCard(html) ?? {};
  const mdAddress = md.streetAddress && (md.addressLocality || md.postalCode)
    ? [md.streetAddress, md.addressLocality, [md.addressRegion, md.postalCode].filter(Boolean).join(" ")]
        .filter(Boolean).join(", ")
    : null;
  // "Riverside Pantry • 401 River St • Wilkes-Barre, PA 18702": bullets
  // and bars part an address as commas do.
  // "Knoxville, Knox County, TN": the county is no part of the line.
  const parted = text.replace(PART_BAR, ", ").replace(/,[ \t]*[A-Z][a-z]+(?:[ \t][A-Z][a-z]+)?[ \t]County(?=,)/g, "");
  const byZip = ADDRESS_BY_ZIP.exec(parted);
  // A site's organization (its office's address and hours) is not the
  // pantry a page names in its heading and locates in its text.
  const textAddress = ADDRESS.exec(parted)?.[1];
  const ld = officeOnly(found, own, textAddress) ? {} : found;
  // An address may come as a list (the first is taken) or as text.
  const place = Array.isArray(ld.address) ? ld.address[0] : ld.address;
  const ldAddress = place && typeof place === "object"
    ? [place.streetAddress, place.addressLocality, [place.addressRegion, place.postalCode].filter(Boolean).join(" ")]
        .filter(Boolean).join(", ")
    : typeof place === "string" ? place : null;

  const meta = metaTags(html);
  const og = openGraphContact(meta);
  const ogText = (v) => (v ? decode(v).replace(/\s+/g, " ").trim() : null);
  // A map link's or embedded map's place, when it is an address.
  const mapAddress = mapQueries(html)
    .map((q) => ADDRESS.exec(q)?.[1] ?? ADDRESS_STATE_NAME.exec(q)?.[1])
    .find(Boolean) ?? null;
  const telHref = ownTelLink(html);
  // A page whose text gives no address, phone or hours may give them in
  // its description ("... is open Wednesdays 4-6 pm at 300 Fish St, ...").
  const described = ogText(meta.description ?? meta["og:description"]) ?? "";
  const mailHref = firstMatch(/href=["']mailto:([^"'?]+)/i, html);
  const hours = hoursLines(text, headingTexts(html, inlineText));

  const name = (typeof ld.name === "string" ? ld.name.trim() : null) ?? own ?? ogText(card.name);
  const fields = {
    name,
    address: ldAddress || mdAddress || ogText(card.address) || ogText(og.address)
      || namedLineAddress(parted, name)
      || oneLine(textAddress)
      || (byZip ? `${byZip[1].trim()}, ${byZip[2].trim()}, ${byZip[3]} ${byZip[4]}` : null)
      || oneLine(ADDRESS_STATE_NAME.exec(parted)?.[1])
      || mapAddress
      || labelledAddress(text)
      || addressWithoutZip(parted)
      // The description's sentence up to "at" is no part of it.
      || oneLine(ADDRESS.exec(described)?.[1].replace(/^.*\bat\s+(?=\d)/i, "")),
    phone: formatPhone(PHONE.exec(ld.telephone ?? "") ?? PHONE.exec(md.telephone ?? "") ?? PHONE.exec(card.tel ?? "")
      ?? PHONE.exec(og.phone ?? "")
      ?? telNumber(telHref) ?? textPhone(text) ?? textPhone(described)),
    email: (typeof ld.email === "string" ? ld.email.replace(/^mailto:/, "") : null) ?? mailHref ?? ogText(og.email)
      ?? cloudflareEmail(html) ?? textEmail(text),
    website: (typeof ld.url === "string" ? ld.url : null)
      ?? firstMatch(/<link[^>]+rel=["']canonical["'][^>]+href=["']([^"']+)/i, html)
      ?? firstMatch(/<meta[^>]+property=["']og:url["'][^>]+content=["']([^"']+)/i, html),
    hours_text: Array.isArray(ld.openingHours) ? ld.openingHours.join("; ")
      : typeof ld.openingHours === "string" ? ld.openingHours
      : openingSpecification(ld.openingHoursSpecification)
        ?? microdataHours(html)
        ?? (hours.length ? hours.join("; ") : null)
        ?? (HOURS_LINE.test(described) ? described : null),
  };
  for (const k of Object.keys(fields)) if (fields[k] === "" || fields[k] === undefined) fields[k] = null;
  const missing = Object.keys(fields).filter((k) => fields[k] === null);
  return { ...fields, text, missing };
}
