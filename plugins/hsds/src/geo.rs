//! Places: coordinates (degrees or Web-Mercator metres) and US state codes.

/// Half the Web-Mercator world width in metres (EPSG:3857).
const MERCATOR_MAX: f64 = 20_037_508.342_789_244;
const EARTH_RADIUS_M: f64 = 6_378_137.0;

/// What a latitude/longitude pair is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Coordinates {
    /// In range as degrees.
    Degrees,
    /// Out of range as degrees but plausible as Web-Mercator metres (latitude
    /// holding northing, longitude easting); the same point in degrees.
    Mercator { latitude: f64, longitude: f64 },
    /// Neither.
    OutOfRange,
}

pub fn classify(latitude: f64, longitude: f64) -> Coordinates {
    if (-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude) {
        return Coordinates::Degrees;
    }
    // Metres within a kilometre of (0, 0) are more likely a typo than a place.
    let plausible = |m: f64| m.is_finite() && m.abs() <= MERCATOR_MAX && m.abs() >= 1_000.0;
    if plausible(latitude) && plausible(longitude) {
        let lat = (latitude / EARTH_RADIUS_M).sinh().atan().to_degrees();
        let lon = (longitude / EARTH_RADIUS_M).to_degrees();
        // Metres that come out at the poles are not a street address.
        if lat.abs() <= 85.06 && lon.abs() <= 180.0 {
            return Coordinates::Mercator {
                latitude: round6(lat),
                longitude: round6(lon),
            };
        }
    }
    Coordinates::OutOfRange
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// USPS codes of the states, DC and the inhabited territories, with names.
pub const US_STATES: &[(&str, &str)] = &[
    ("AL", "Alabama"),
    ("AK", "Alaska"),
    ("AZ", "Arizona"),
    ("AR", "Arkansas"),
    ("CA", "California"),
    ("CO", "Colorado"),
    ("CT", "Connecticut"),
    ("DE", "Delaware"),
    ("DC", "District of Columbia"),
    ("FL", "Florida"),
    ("GA", "Georgia"),
    ("HI", "Hawaii"),
    ("ID", "Idaho"),
    ("IL", "Illinois"),
    ("IN", "Indiana"),
    ("IA", "Iowa"),
    ("KS", "Kansas"),
    ("KY", "Kentucky"),
    ("LA", "Louisiana"),
    ("ME", "Maine"),
    ("MD", "Maryland"),
    ("MA", "Massachusetts"),
    ("MI", "Michigan"),
    ("MN", "Minnesota"),
    ("MS", "Mississippi"),
    ("MO", "Missouri"),
    ("MT", "Montana"),
    ("NE", "Nebraska"),
    ("NV", "Nevada"),
    ("NH", "New Hampshire"),
    ("NJ", "New Jersey"),
    ("NM", "New Mexico"),
    ("NY", "New York"),
    ("NC", "North Carolina"),
    ("ND", "North Dakota"),
    ("OH", "Ohio"),
    ("OK", "Oklahoma"),
    ("OR", "Oregon"),
    ("PA", "Pennsylvania"),
    ("RI", "Rhode Island"),
    ("SC", "South Carolina"),
    ("SD", "South Dakota"),
    ("TN", "Tennessee"),
    ("TX", "Texas"),
    ("UT", "Utah"),
    ("VT", "Vermont"),
    ("VA", "Virginia"),
    ("WA", "Washington"),
    ("WV", "West Virginia"),
    ("WI", "Wisconsin"),
    ("WY", "Wyoming"),
    ("PR", "Puerto Rico"),
    ("GU", "Guam"),
    ("VI", "U.S. Virgin Islands"),
    ("AS", "American Samoa"),
    ("MP", "Northern Mariana Islands"),
];

/// The USPS code for a code or a full name, any case.
pub fn us_state_code(text: &str) -> Option<&'static str> {
    let t = text.trim();
    US_STATES
        .iter()
        .find(|(code, name)| code.eq_ignore_ascii_case(t) || name.eq_ignore_ascii_case(t))
        .map(|(code, _)| *code)
        .or_else(|| {
            // "Ill.", "Calif.", "W.Va.": a newspaper's abbreviation.
            let bare: String = t.chars().filter(|c| *c != '.').collect();
            NEWSPAPER_STATES
                .iter()
                .find(|(_, short)| short.eq_ignore_ascii_case(&bare))
                .map(|(code, _)| *code)
        })
}

/// The states' names and the newspapers' abbreviations as a regular
/// expression's alternatives ("New Hampshire", "Mass.", "W.Va."), for
/// finding an address in text.
pub(crate) fn newspaper_pattern() -> String {
    let names = US_STATES.iter().map(|(_, name)| name.replace('.', r"\."));
    NEWSPAPER_STATES
        .iter()
        .map(|(_, short)| {
            let mut p = String::new();
            for (i, c) in short.chars().enumerate() {
                // "WVa": "W." and "Va." each may have their dot.
                if i > 0 && c.is_ascii_uppercase() {
                    p.push_str(r"\.?\s?");
                }
                p.push(c);
            }
            format!(r"{p}\.?")
        })
        .chain(names)
        .collect::<Vec<_>>()
        .join("|")
}

/// The states' abbreviations in newspapers and church bulletins (AP
/// style, and the older ones beside it), without their dots; the states
/// whose AP form is a two-letter code or the name are in `US_STATES`.
const NEWSPAPER_STATES: [(&str, &str); 30] = [
    ("AL", "Ala"),
    ("AZ", "Ariz"),
    ("AR", "Ark"),
    ("CA", "Calif"),
    ("CA", "Cal"),
    ("CO", "Colo"),
    ("CT", "Conn"),
    ("DE", "Del"),
    ("FL", "Fla"),
    ("IL", "Ill"),
    ("IN", "Ind"),
    ("KS", "Kan"),
    ("KS", "Kans"),
    ("MA", "Mass"),
    ("MI", "Mich"),
    ("MN", "Minn"),
    ("MS", "Miss"),
    ("MT", "Mont"),
    ("NE", "Neb"),
    ("NE", "Nebr"),
    ("NV", "Nev"),
    ("OK", "Okla"),
    ("OR", "Ore"),
    ("PA", "Penn"),
    ("TN", "Tenn"),
    ("TX", "Tex"),
    ("WA", "Wash"),
    ("WV", "WVa"),
    ("WI", "Wis"),
    ("WY", "Wyo"),
];

/// "40.1, -75.2" (or "-75.2, 40.1"): a latitude and a longitude in one
/// text, in degrees; the order by which of the two can be a latitude.
pub fn pair(text: &str) -> Option<(f64, f64)> {
    let (a, b) = text.trim().split_once(',')?;
    let number = |t: &str| {
        let t = t.trim();
        let ok = t.contains('.')
            && t.chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '-');
        ok.then(|| t.parse::<f64>().ok()).flatten()
    };
    let (a, b) = (number(a)?, number(b)?);
    let latitude = |x: f64| (-90.0..=90.0).contains(&x);
    let longitude = |x: f64| (-180.0..=180.0).contains(&x);
    if latitude(a) && longitude(b) {
        Some((a, b))
    } else if latitude(b) && longitude(a) {
        Some((b, a))
    } else {
        None
    }
}

/// The first three digits of ZIP codes, as ranges, and the state they lie
/// in (USPS; military and unassigned prefixes left out).
const ZIP3: &[(u16, u16, &str)] = &[
    (5, 5, "NY"),
    (6, 7, "PR"),
    (8, 8, "VI"),
    (9, 9, "PR"),
    (10, 27, "MA"),
    (28, 29, "RI"),
    (30, 38, "NH"),
    (39, 49, "ME"),
    (50, 54, "VT"),
    (55, 55, "MA"),
    (56, 59, "VT"),
    (60, 69, "CT"),
    (70, 89, "NJ"),
    (100, 149, "NY"),
    (150, 196, "PA"),
    (197, 199, "DE"),
    (200, 200, "DC"),
    (201, 201, "VA"),
    (202, 205, "DC"),
    (206, 219, "MD"),
    (220, 246, "VA"),
    (247, 268, "WV"),
    (270, 289, "NC"),
    (290, 299, "SC"),
    (300, 319, "GA"),
    (320, 339, "FL"),
    (341, 349, "FL"),
    (350, 369, "AL"),
    (370, 385, "TN"),
    (386, 397, "MS"),
    (398, 399, "GA"),
    (400, 427, "KY"),
    (430, 459, "OH"),
    (460, 479, "IN"),
    (480, 499, "MI"),
    (500, 528, "IA"),
    (530, 549, "WI"),
    (550, 567, "MN"),
    (569, 569, "DC"),
    (570, 577, "SD"),
    (580, 588, "ND"),
    (590, 599, "MT"),
    (600, 629, "IL"),
    (630, 658, "MO"),
    (660, 679, "KS"),
    (680, 693, "NE"),
    (700, 715, "LA"),
    (716, 729, "AR"),
    (730, 732, "OK"),
    (733, 733, "TX"),
    (734, 749, "OK"),
    (750, 799, "TX"),
    (800, 816, "CO"),
    (820, 831, "WY"),
    (832, 838, "ID"),
    (840, 847, "UT"),
    (850, 865, "AZ"),
    (870, 884, "NM"),
    (885, 885, "TX"),
    (889, 898, "NV"),
    (900, 961, "CA"),
    (967, 968, "HI"),
    (969, 969, "GU"),
    (970, 979, "OR"),
    (980, 994, "WA"),
    (995, 999, "AK"),
];

/// The state a US ZIP code ("19133", "19133-2201") lies in, by its first
/// three digits; None for anything else.
pub fn state_of_zip(zip: &str) -> Option<&'static str> {
    let digits = zip
        .trim()
        .get(..5)
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))?;
    let prefix: u16 = digits[..3].parse().ok()?;
    ZIP3.iter()
        .find(|(low, high, _)| (*low..=*high).contains(&prefix))
        .map(|(_, _, state)| *state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_mercator_metres_become_degrees() {
        // The northing a real source gives as "latitude" (EPSG:3857 metres).
        match classify(4_689_967.66, -8_543_312.0) {
            Coordinates::Mercator {
                latitude,
                longitude,
            } => {
                assert!((latitude - 38.79).abs() < 0.1, "{latitude}");
                assert!((longitude - -76.75).abs() < 0.1, "{longitude}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(classify(40.0, -75.7), Coordinates::Degrees);
        assert_eq!(classify(100.0, 101.0), Coordinates::OutOfRange);
        assert_eq!(us_state_code("pennsylvania"), Some("PA"));
        assert_eq!(us_state_code("MyState"), None);
        for (zip, state) in [
            ("19133", "PA"),
            ("08105", "NJ"),
            ("00901", "PR"),
            ("46516-2233", "IN"),
            ("73301", "TX"),
            ("20500", "DC"),
            ("99501", "AK"),
            ("94559", "CA"),
        ] {
            assert_eq!(state_of_zip(zip), Some(state), "{zip}");
        }
        assert_eq!(state_of_zip("09001"), None);
        assert_eq!(state_of_zip("1913"), None);
        assert_eq!(state_of_zip("ABCDE"), None);
    }
}
