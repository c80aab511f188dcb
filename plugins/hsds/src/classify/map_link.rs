//! A map link's place read as an address (Google's, Apple's and Bing's
//! links and embeds).

use super::{Address, address};

/// A map link's place, when it is an address: Google's
/// `/maps/place/12+Oak+St,+Muncie,+IN+47305/@...` and `?q=`, `?query=`,
/// `?daddr=`, `?destination=`, an embed's `pb=...!2s<place>!`, Apple's and
/// Bing's `?q=`/`?address=`. `None`
/// for any other text, and for a place that is no whole address (a street
/// with its state or ZIP code).
pub fn map_link_address(text: &str) -> Option<Address> {
    let t = text.trim();
    // Every field's text comes here: only a link is lowered and searched.
    if !t.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("http")) {
        return None;
    }
    let lower = t.to_ascii_lowercase();
    let map = (lower.contains("google.") && lower.contains("/maps"))
        || lower.contains("maps.google.")
        || lower.contains("maps.apple.com")
        || lower.contains("bing.com/maps");
    if !map {
        return None;
    }
    let place = lower.find("/maps/place/").map(|i| {
        let rest = &t[i + "/maps/place/".len()..];
        rest.split(['/', '?', '#']).next().unwrap_or_default()
    });
    let query = t.split(['?', '&']).skip(1).find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        match k {
            "q" | "query" | "daddr" | "destination" | "address" => Some(v),
            // An embedded map's `pb=...!2s<place>!...`.
            "pb" => v.split('!').find_map(|part| part.strip_prefix("2s")),
            _ => None,
        }
    });
    [query, place].into_iter().flatten().find_map(|raw| {
        let raw = raw.split('#').next().unwrap_or_default();
        let a = address(&percent_decoded(raw)?)?;
        (a.state.is_some() || a.zip.is_some()).then_some(a)
    })
}

/// A URL's part with `+` as a space and `%XX` as its byte; `None` when it
/// is not UTF-8 after.
fn percent_decoded(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_embedded_maps_place() {
        let embed = "https://www.google.com/maps/embed?pb=!1m18!1m12!1m3!1d2941.5!2d-83.6!3d42.59\
                     !3m3!1m2!1s0x0%3A0x0!2s238%20N%20Main%20St%2C%20Milford%2C%20MI%2048381!5e0\
                     !3m2!1sen!2sus!4v1700000000000";
        let a = super::map_link_address(embed).expect("the embed's place");
        assert_eq!(
            (a.street.as_deref(), a.city.as_deref(), a.zip.as_deref()),
            (Some("238 N Main St"), Some("Milford"), Some("48381"))
        );
        // "!2sus" (a language) is no place.
        assert!(
            super::map_link_address("https://www.google.com/maps/embed?pb=!1sen!2sus").is_none()
        );
    }
}
