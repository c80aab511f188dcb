// Fields a page gives outside its visible text: Open Graph's business
// contact tags, a map link's place query, an email address Cloudflare hid
// from robots. Pure functions over the page's HTML; values come back as
// written (entities still in them), for the caller to decode.

/** Every `<meta property="..." content="...">` (or `name=`) of the page,
 * by its property in lower case; the first of a property wins. */
export function metaTags(html) {
  const found = {};
  for (const tag of html.match(/<meta\b[^>]*>/gi) ?? []) {
    const attrs = {};
    for (const m of tag.matchAll(/\b(property|name|content)\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)) {
      attrs[m[1].toLowerCase()] = m[2] ?? m[3];
    }
    const key = (attrs.property ?? attrs.name)?.toLowerCase();
    if (key && attrs.content && !(key in found)) found[key] = attrs.content.trim();
  }
  return found;
}

/** Open Graph's business contact data (`business:contact_data:street_address`,
 * and the older `og:street-address`): the address as "street, City, ST
 * ZIP", the phone and the email, each null when the page gives none. */
export function openGraphContact(meta) {
  const c = (k) => meta[`business:contact_data:${k}`] ?? null;
  const street = c("street_address") ?? meta["og:street-address"] ?? null;
  const city = c("locality") ?? meta["og:locality"] ?? null;
  const region = c("region") ?? meta["og:region"] ?? null;
  const zip = c("postal_code") ?? meta["og:postal-code"] ?? null;
  const address = street && (city || zip)
    ? [street, city, [region, zip].filter(Boolean).join(" ")].filter(Boolean).join(", ")
    : null;
  return {
    address,
    phone: c("phone_number") ?? meta["og:phone_number"] ?? null,
    email: c("email") ?? meta["og:email"] ?? null,
  };
}

/** The places a page's map links and embedded maps ask for: Google's
 * `?q=`, `?query=`, `?daddr=`, an embed's `pb=...!2s<place>!` and `/maps/place/<place>/`, Apple's and
 * Bing's `?q=`/`?address=`/`?where1=`, decoded ("310 Elm Valley Rd,
 * Bedford, IN 47421"). */
export function mapQueries(html) {
  const out = [];
  for (const m of html.matchAll(/\b(?:href|src)\s*=\s*["']([^"']*\bmaps?\b[^"']*)["']/gi)) {
    const url = m[1].replace(/&amp;/gi, "&");
    const place = /\/maps\/place\/([^/?#]+)/i.exec(url)?.[1];
    // An embedded map's `pb=` holds the place after "!2s".
    const query = /[?&](?:q|query|daddr|address|where1)=([^&#]+)/i.exec(url)?.[1] ?? /[?&]pb=[^&#]*?!2s([^!&#]+)/i.exec(url)?.[1];
    for (const raw of [query, place]) {
      if (!raw) continue;
      try {
        out.push(decodeURIComponent(raw.replace(/\+/g, " ")).replace(/\s+/g, " ").trim());
      } catch (_) {
        // A broken escape: not a place.
      }
    }
  }
  return out;
}

/** An email address Cloudflare wrote as `data-cfemail="<hex>"` (or in an
 * `/cdn-cgi/l/email-protection#<hex>` link): the first byte is a key every
 * other byte is XORed with. Null when the page has none that decodes to
 * an address. */
export function cloudflareEmail(html) {
  const re = /(?:data-cfemail=["']|email-protection#)([0-9a-f]{4,400})\b/gi;
  for (const m of html.matchAll(re)) {
    const hex = m[1];
    if (hex.length % 2 !== 0) continue;
    const key = parseInt(hex.slice(0, 2), 16);
    let email = "";
    for (let i = 2; i < hex.length; i += 2) email += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16) ^ key);
    if (/^[A-Z0-9._%+-]+@[A-Z0-9.-]+\.[A-Z]{2,}$/i.test(email)) return email;
  }
  return null;
}

/** An hCard microformat's name and address (`class="vcard"` with `fn`,
 * `org`, `street-address`, `locality`, `region`, `postal-code`, `tel`):
 * each as written, null when the page has no card. */
export function hCard(html) {
  const at = html.search(/\bclass=["'][^"']*\bvcard\b/i);
  if (at < 0) return null;
  const card = html.slice(at);
  const cls = (name) => {
    const m = new RegExp(`<([a-z0-9]+)\\b[^>]*\\bclass=["'][^"']*\\b${name}\\b[^"']*["'][^>]*>([\\s\\S]*?)</\\1\\s*>`, "i").exec(card);
    return m ? m[2].replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim() || null : null;
  };
  const street = cls("street-address");
  const place = [cls("locality"), [cls("region"), cls("postal-code")].filter(Boolean).join(" ")].filter(Boolean);
  return {
    name: cls("fn") ?? cls("org"),
    address: street && place.length ? [street, ...place].join(", ") : null,
    tel: cls("tel"),
  };
}

// A newspaper's state abbreviations (AP style), as postal codes.
const NEWSPAPER_STATES = {
  "Ala.": "AL", "Ariz.": "AZ", "Ark.": "AR", "Calif.": "CA", "Colo.": "CO", "Conn.": "CT", "Del.": "DE",
  "Fla.": "FL", "Ga.": "GA", "Ill.": "IL", "Ind.": "IN", "Kan.": "KS", "Ky.": "KY", "La.": "LA", "Md.": "MD",
  "Mass.": "MA", "Mich.": "MI", "Minn.": "MN", "Miss.": "MS", "Mo.": "MO", "Mont.": "MT", "Neb.": "NE",
  "Nev.": "NV", "N.H.": "NH", "N.J.": "NJ", "N.M.": "NM", "N.Y.": "NY", "N.C.": "NC", "N.D.": "ND",
  "Okla.": "OK", "Ore.": "OR", "Pa.": "PA", "R.I.": "RI", "S.C.": "SC", "S.D.": "SD", "Tenn.": "TN",
  "Vt.": "VT", "Va.": "VA", "Wash.": "WA", "W.Va.": "WV", "Wis.": "WI", "Wyo.": "WY",
};
const NEWSPAPER = new RegExp(
  `(,[ \\t]*)(${Object.keys(NEWSPAPER_STATES).map((k) => k.replace(/\./g, "\\.")).join("|")})(?=[ \\t]*(?:,|$|\\d))`, "gm");

/** A text with a newspaper's state abbreviations after a comma ("Dover,
 * N.H.,") written as postal codes ("Dover, NH,"). */
export function postalStates(text) {
  return text.replace(NEWSPAPER, (_, comma, abbr) => `${comma}${NEWSPAPER_STATES[abbr]}`);
}

/** The place a page's data island describes (a framework's `<script
 * id="__NEXT_DATA__" type="application/json">`, or any other JSON
 * script) when the page draws it with a script: the first object holding
 * a name and a street or a phone, in JSON-LD's field names (`name`,
 * `address` as parts or text, `telephone`, `email`, `openingHours`).
 * Null when no island holds one. */
export function dataIsland(html) {
  const re = /<script\b[^>]*type=["']application\/json["'][^>]*>([\s\S]*?)<\/script\s*>/gi;
  for (const m of html.matchAll(re)) {
    let data;
    try {
      data = JSON.parse(m[1]);
    } catch (_) {
      continue;
    }
    const place = placeIn(data, 0);
    if (place) return place;
  }
  return null;
}

/** The first of `keys` that `o` holds as a text. */
function pick(o, keys) {
  return keys.map((k) => o[k]).find((v) => typeof v === "string" && v.trim() !== "") ?? null;
}

/** The first object (depth first, at most 8 levels and 50 items a list)
 * that names a place and gives its street or phone. */
function placeIn(v, depth) {
  if (!v || typeof v !== "object" || depth > 8) return null;
  const items = Array.isArray(v) ? v.slice(0, 50) : Object.values(v);
  if (!Array.isArray(v)) {
    const name = pick(v, ["name", "title", "locationName", "siteName"]);
    const a = v.address ?? v.location;
    // A text counts when it starts as a street does ("3100 S Halsted St, ..."),
    // not a locale's or a city's name.
    const address = typeof a === "string" ? (/^\d+[A-Za-z]?\s+\S/.test(a) ? a : null) : a && typeof a === "object" && !Array.isArray(a) ? {
      streetAddress: pick(a, ["streetAddress", "street", "street1", "address1", "line1", "addressLine1"]),
      addressLocality: pick(a, ["addressLocality", "city", "locality", "town"]),
      addressRegion: pick(a, ["addressRegion", "state", "region", "province"]),
      postalCode: pick(a, ["postalCode", "zip", "zipCode", "postcode", "postal_code"]),
    } : null;
    const telephone = pick(v, ["telephone", "phone", "phoneNumber", "phone_number"]);
    const street = typeof address === "string" || Boolean(address?.streetAddress);
    if (name && (street || telephone)) {
      const openingHours = pick(v, ["openingHours", "hours", "hoursText", "hours_text", "schedule"]);
      return { name, address, telephone, email: pick(v, ["email"]), openingHours };
    }
  }
  for (const item of items) {
    const place = placeIn(item, depth + 1);
    if (place) return place;
  }
  return null;
}
