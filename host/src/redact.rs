//! Keeping secrets out of what Deckhand prints: logs, errors, `/health`,
//! heartbeats. A URL's userinfo (`redis://:PASSWORD@host`,
//! `https://user:key@host`) is replaced before the URL is shown anywhere.

/// `url` with its password (and user name) replaced by `***`:
/// `redis://:hunter2@db:6379/0` becomes `redis://***@db:6379/0`. Text that
/// is not a URL with userinfo comes back unchanged.
pub fn url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // The authority ends at the first '/', '?' or '#'; userinfo is what
    // comes before its last '@'.
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rfind('@') {
        Some(at) => format!("{scheme}://***@{}{tail}", &authority[at + 1..]),
        None => url.to_string(),
    }
}

/// `text` (an error message, say) with the secret parts of `url` removed
/// wherever they appear, in case a library quoted the URL or its password.
pub fn text(text: &str, url: &str) -> String {
    let mut out = text.replace(url, &self::url(url));
    if let Some(secret) = userinfo(url) {
        // Short secrets would blank out ordinary words; none is that short.
        if secret.len() >= 3 {
            out = out.replace(secret, "***");
        }
    }
    out
}

/// The userinfo of `url` (`user:password`), if any.
fn userinfo(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let at = authority.rfind('@')?;
    let info = &authority[..at];
    // ":password" (Redis' usual form) or "user:password": the password part.
    Some(info.split_once(':').map_or(info, |(_, p)| p)).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_survive() {
        assert_eq!(
            url("redis://:hunter2pass@10.0.0.5:6379/0"),
            "redis://***@10.0.0.5:6379/0"
        );
        assert_eq!(url("rediss://user:pw@h"), "rediss://***@h");
        assert_eq!(url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(url("not a url"), "not a url");
        assert_eq!(url("https://h/path@x"), "https://h/path@x");
        let msg = "cannot reach redis://:s3cret@h: auth failed for s3cret";
        let clean = text(msg, "redis://:s3cret@h");
        assert!(!clean.contains("s3cret"), "{clean}");
    }
}
