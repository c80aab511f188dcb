"""Free-text pantry opening hours -> HSDS `schedule` objects.

Pure Python, no imports beyond the standard library, so it runs the same in
the component and under a plain interpreter. Anything it cannot read is
reported back, never guessed.
"""

import re

DAYS = [
    ("MO", r"mon(?:day)?s?|mo|m"),
    ("TU", r"tue(?:s(?:day)?)?s?|tu"),
    ("WE", r"wed(?:nesday)?s?|we|w"),
    ("TH", r"thu(?:r(?:s(?:day)?)?)?s?|th"),
    ("FR", r"fri(?:day)?s?|fr|f"),
    ("SA", r"sat(?:urday)?s?|sa"),
    ("SU", r"sun(?:day)?s?|su"),
]
ORDER = [code for code, _ in DAYS]
DAY_RE = re.compile(r"\b(" + "|".join(f"(?P<{c}>{p})" for c, p in DAYS) + r")\b")
TIME = r"(?:noon|midnight|\d{1,2}(?::\d{2}){0,2}\s*(?:am|pm|a|p)?)"
RANGE_RE = re.compile(
    r"(?<![\d:])(?P<start>" + TIME + r")\s*(?:-|to|until|till|through)\s*(?P<end>" + TIME + r")(?![\d:])"
)
ORDINAL_RE = re.compile(r"\b(1st|first|2nd|second|3rd|third|4th|fourth|5th|fifth|last)\b")
ORDINALS = {"1st": 1, "first": 1, "2nd": 2, "second": 2, "3rd": 3, "third": 3,
            "4th": 4, "fourth": 4, "5th": 5, "fifth": 5, "last": -1}


def normalize(text):
    t = text.lower()
    t = t.replace("\u2013", "-").replace("\u2014", "-").replace("\u2012", "-")
    t = re.sub(r"\b([ap])\.\s?m\.?", r"\1m", t)
    t = t.replace("&", " and ")
    return re.sub(r"\s+", " ", t).strip()


def parse_time(raw):
    """'10:00 am' -> (hour, minute, second, meridiem or None)."""
    raw = raw.strip()
    if raw == "noon":
        return 12, 0, 0, "pm"
    if raw == "midnight":
        return 0, 0, 0, "am"
    m = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*(am|pm|a|p)?", raw)
    if not m:
        return None
    hour, minute, second = int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0)
    meridiem = m.group(4)
    if meridiem:
        meridiem = "am" if meridiem.startswith("a") else "pm"
    if hour > 23 or minute > 59 or second > 59 or (meridiem and not 1 <= hour <= 12):
        return None
    return hour, minute, second, meridiem


def to_24(hour, meridiem):
    if meridiem == "am":
        return 0 if hour == 12 else hour
    if meridiem == "pm":
        return 12 if hour == 12 else hour + 12
    return hour


def resolve(start, end):
    """Both ends in seconds since midnight, inferring missing am/pm."""
    (sh, sm, ss, smer), (eh, em, es, emer) = start, end
    if emer is None and smer is not None:
        # "8:30a-4:30": the first reading of the end that comes after the start.
        s = to_24(sh, smer) * 3600 + sm * 60 + ss
        candidates = [eh * 3600 + em * 60 + es]
        if eh <= 12:
            candidates.append(to_24(eh, "pm") * 3600 + em * 60 + es)
        later = [c for c in candidates if c > s]
        return (s, min(later)) if later else None
    e = to_24(eh, emer) * 3600 + em * 60 + es
    if smer is None:
        # "9:00-1:00 pm": the reading of the start that comes before the end.
        candidates = [sh * 3600 + sm * 60 + ss]
        if sh < 12:
            candidates.append((sh + 12) * 3600 + sm * 60 + ss)
        earlier = [c for c in candidates if c < e]
        return (max(earlier), e) if earlier else None
    s = to_24(sh, smer) * 3600 + sm * 60 + ss
    return (s, e) if s < e else None


def clock(seconds):
    return "%02d:%02d:%02d" % (seconds // 3600, seconds // 60 % 60, seconds % 60)


def parse_days(text):
    """Day codes named in `text`, with ranges ('mon-fri', 'm - th') expanded."""
    found = []
    matches = list(DAY_RE.finditer(text))
    i = 0
    while i < len(matches):
        code = next(c for c in ORDER if matches[i].group(c))
        if i + 1 < len(matches):
            between = text[matches[i].end():matches[i + 1].start()]
            if re.fullmatch(r"\s*(?:-|to|through|thru)\s*", between):
                end = next(c for c in ORDER if matches[i + 1].group(c))
                a, b = ORDER.index(code), ORDER.index(end)
                span = ORDER[a:b + 1] if a <= b else ORDER[a:] + ORDER[:b + 1]
                found.extend(span)
                i += 2
                continue
        # A lone letter (m, w, f) counts only next to other day words.
        if len(matches[i].group(0)) > 1 or len(matches) > 1:
            found.append(code)
        i += 1
    return [d for d in ORDER if d in found]


def parse(text):
    """Returns (schedules, unparsed fragments)."""
    if not isinstance(text, str) or not text.strip():
        return [], [text]
    t = normalize(text)
    ranges = list(RANGE_RE.finditer(t))
    schedules, unparsed = [], []
    previous_end = 0
    for n, r in enumerate(ranges):
        before = t[previous_end:r.start()]
        # "monday: closed tuesday: 12-2": only what follows the last "closed".
        before = re.split(r"\bclosed\b", before)[-1]
        after = t[r.end():ranges[n + 1].start() if n + 1 < len(ranges) else len(t)]
        after = re.split(r"[;.]|\bclosed\b", after)[0]
        previous_end = r.end()
        start, end = parse_time(r.group("start")), parse_time(r.group("end"))
        span = resolve(start, end) if start and end else None
        if span is None:
            unparsed.append(r.group(0))
            continue
        days = parse_days(before) or parse_days(after)
        context = before + " " + after
        ordinals = [ORDINALS[o] for o in ORDINAL_RE.findall(context)]
        if not days:
            unparsed.append((before + r.group(0)).strip())
            continue
        schedule = {"opens_at": clock(span[0]), "closes_at": clock(span[1])}
        # "1st and 3rd tuesday", "every 3rd tuesday (of the month)": monthly.
        if ordinals:
            schedule["freq"] = "MONTHLY"
            schedule["byday"] = ",".join(f"{o}{d}" for d in days for o in sorted(set(ordinals)))
        else:
            schedule["freq"] = "WEEKLY"
            schedule["byday"] = ",".join(days)
        schedule["description"] = text.strip()
        schedules.append(schedule)
    if not ranges:
        unparsed.append(text.strip())
    return merge(schedules), unparsed


def merge(schedules):
    """One schedule per (freq, opens_at, closes_at), days joined in week order."""
    merged = {}
    for s in schedules:
        key = (s["freq"], s["opens_at"], s["closes_at"])
        if key in merged:
            days = merged[key]["byday"].split(",") + s["byday"].split(",")
            unique = list(dict.fromkeys(days))
            unique.sort(key=lambda d: (ORDER.index(d[-2:]), d))
            merged[key]["byday"] = ",".join(unique)
        else:
            merged[key] = dict(s)
    return list(merged.values())
