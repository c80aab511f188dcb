use std::net::IpAddr;

use super::*;

fn grant(hosts: &[&str], addresses: &[&str]) -> HttpGrant {
    HttpGrant {
        allowed_hosts: hosts.iter().map(|s| s.to_string()).collect(),
        allowed_addresses: addresses.iter().map(|s| s.to_string()).collect(),
        ..HttpGrant::default()
    }
}

#[test]
fn host_patterns_match_scheme_host_and_port() {
    let g = grant(
        &["https://api.example.org", "http://*.pantry.test:8080"],
        &[],
    );
    assert!(g.allows_host("https", "api.example.org", 443));
    assert!(g.allows_host("https", "API.example.org", 443));
    assert!(!g.allows_host("http", "api.example.org", 443), "scheme");
    assert!(!g.allows_host("https", "api.example.org", 8443), "port");
    assert!(!g.allows_host("https", "evil.org", 443));
    assert!(!g.allows_host("https", "api.example.org.evil.org", 443));
    assert!(g.allows_host("http", "a.pantry.test", 8080));
    assert!(g.allows_host("http", "a.b.pantry.test", 8080));
    assert!(
        !g.allows_host("http", "pantry.test", 8080),
        "*. needs a label"
    );
    assert!(!g.allows_host("http", "xpantry.test", 8080));
    let any = grant(&["https://*:*"], &[]);
    assert!(any.allows_host("https", "anything.example", 1));
    assert!(!any.allows_host("http", "anything.example", 80));
}

#[test]
fn bad_patterns_are_refused_with_the_reason() {
    for (pattern, says) in [
        ("api.example.org", "scheme"),
        ("ftp://x.org", "not http"),
        ("https://x.org/path", "no path"),
        ("https://user@x.org", "no path or user"),
        ("https://x.org:99999", "0-65535"),
        ("https://", "not a name"),
        ("https://x y.org", "not a name"),
    ] {
        let e = HostPattern::parse(pattern).unwrap_err();
        assert!(e.contains(says), "{pattern}: {e}");
    }
    let mut grants = Grants::new();
    grants.insert(
        "scraper".into(),
        PluginGrant {
            http: Some(grant(&["api.example.org"], &[])),
            ..PluginGrant::default()
        },
    );
    let e = check(&grants).unwrap_err();
    assert!(e.starts_with("plugins.scraper.http: allowed_hosts"), "{e}");
}

#[test]
fn addresses_are_classified() {
    let class = |s: &str| classify_address(s.parse::<IpAddr>().unwrap());
    assert_eq!(class("8.8.8.8"), AddressClass::Public);
    assert_eq!(class("127.0.0.1"), AddressClass::Loopback);
    assert_eq!(class("127.9.9.9"), AddressClass::Loopback);
    assert_eq!(class("::1"), AddressClass::Loopback);
    assert_eq!(class("::ffff:127.0.0.1"), AddressClass::Loopback);
    assert_eq!(class("10.1.2.3"), AddressClass::Private);
    assert_eq!(class("172.16.0.1"), AddressClass::Private);
    assert_eq!(class("192.168.1.1"), AddressClass::Private);
    assert_eq!(class("100.64.0.1"), AddressClass::Private);
    assert_eq!(class("fd12::1"), AddressClass::Private);
    assert_eq!(class("169.254.1.1"), AddressClass::LinkLocal);
    assert_eq!(class("fe80::1"), AddressClass::LinkLocal);
    assert_eq!(class("169.254.169.254"), AddressClass::Metadata);
    assert_eq!(class("::ffff:169.254.169.254"), AddressClass::Metadata);
    assert_eq!(class("fd00:ec2::254"), AddressClass::Metadata);
    assert_eq!(class("0.0.0.0"), AddressClass::Unroutable);
    assert_eq!(class("::"), AddressClass::Unroutable);
    assert_eq!(class("224.0.0.1"), AddressClass::Unroutable);
    assert_eq!(class("2606:4700::1111"), AddressClass::Public);
}

#[test]
fn address_grants_cover_exactly_their_network() {
    let g = grant(&[], &["127.0.0.1", "10.0.0.0/8", "fd00::/8"]);
    let ok = |s: &str| g.allows_address(s.parse().unwrap());
    assert!(ok("127.0.0.1"));
    assert!(ok("::ffff:127.0.0.1"));
    assert!(!ok("127.0.0.2"));
    assert!(ok("10.200.0.1"));
    assert!(!ok("11.0.0.1"));
    assert!(ok("fd12::1"));
    assert!(!ok("169.254.169.254"));
    assert!(!grant(&[], &[]).allows_address("127.0.0.1".parse().unwrap()));
    assert!(grant(&[], &["10.0.0.0/33"]).check().is_err());
}

#[test]
fn methods_default_to_reads() {
    let g = HttpGrant::default();
    assert!(g.allows_method("GET") && g.allows_method("HEAD"));
    assert!(!g.allows_method("POST"));
    let g = HttpGrant {
        allowed_methods: vec!["POST".into()],
        ..HttpGrant::default()
    };
    assert!(g.allows_method("POST") && !g.allows_method("GET"));
}

#[test]
fn a_variable_names_one_source_and_its_debug_hides_the_value() {
    let v = Variable {
        value: Some("hunter2".into()),
        env: None,
        file: None,
        secret: true,
    };
    assert!(v.check().is_ok());
    assert_eq!(v.resolve().unwrap(), "hunter2");
    assert!(!format!("{v:?}").contains("hunter2"));
    let both = Variable {
        env: Some("X".into()),
        ..v.clone()
    };
    assert!(both.check().is_err());
    let missing = Variable {
        value: None,
        env: Some("DECKHAND_TEST_SURELY_UNSET_VARIABLE".into()),
        file: None,
        secret: false,
    };
    assert_eq!(
        missing.resolve(),
        Err(VariableError::EnvMissing(
            "DECKHAND_TEST_SURELY_UNSET_VARIABLE".into()
        ))
    );
}

#[test]
fn the_book_swaps_whole_and_an_unknown_plugin_has_nothing() {
    let book = GrantBook::default();
    assert_eq!(*book.of("scraper"), PluginGrant::default());
    let mut grants = Grants::new();
    grants.insert(
        "scraper".into(),
        PluginGrant {
            key_value: Some(KvGrant::default()),
            ..PluginGrant::default()
        },
    );
    assert!(book.replace(grants.clone()));
    assert!(!book.replace(grants), "unchanged");
    assert!(book.of("scraper").key_value.is_some());
    assert!(book.of("other").key_value.is_none());
}
