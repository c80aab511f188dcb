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
    }
}
