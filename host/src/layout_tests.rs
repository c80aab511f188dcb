//! Keeps the layout in `lib.rs` true: each module imports only the modules
//! its row names (checked on the source text, `crate::<module>` paths and
//! `use crate::{...}` groups alike).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module -> the modules it may import (the table in `lib.rs`).
const ALLOWED: &[(&str, &[&str])] = &[
    (
        "api",
        &[
            "worker",
            "queue",
            "metrics",
            "schedule",
            "job",
            "redis_server",
        ],
    ),
    (
        "config",
        &[
            "worker",
            "runtime",
            "grants",
            "llm",
            "queue",
            "schedule",
            "job",
            "redact",
            "telemetry",
        ],
    ),
    (
        "worker",
        &[
            "registry",
            "runtime",
            "llm",
            "content",
            "metrics",
            "queue",
            "schedule",
            "telemetry",
            "job",
        ],
    ),
    ("metrics", &["queue"]),
    ("llm", &["runtime", "queue", "redact", "schema", "job"]),
    ("content", &["queue", "job"]),
    ("registry", &["runtime"]),
    ("runtime", &["grants", "job", "schema"]),
    ("grants", &[]),
    ("queue", &["schedule", "job", "redact"]),
    ("schedule", &["job"]),
    ("job", &[]),
    ("schema", &[]),
    ("redact", &[]),
    ("telemetry", &["job", "redact"]),
    ("redis_server", &[]),
];

fn rust_files(path: &Path, out: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            rust_files(&entry.path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The crate modules a source text names through `crate::`.
fn imports(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for part in group.split(',') {
                let name = part.trim().split("::").next().unwrap_or("");
                if !name.is_empty() {
                    found.insert(name.to_string());
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            found.insert(name);
        }
    }
    found
}

#[test]
fn modules_import_only_what_the_layout_allows() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (module, may) in &allowed {
        let mut files = Vec::new();
        rust_files(&src.join(module), &mut files);
        rust_files(&src.join(format!("{module}.rs")), &mut files);
        assert!(!files.is_empty(), "no source for module {module}");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            for import in imports(&text) {
                if import != *module && !may.contains(&import.as_str()) {
                    wrong.push(format!("{} imports crate::{import}", file.display()));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports the layout does not allow:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_import_reader_sees_paths_and_groups() {
    let text = "use crate::queue::Queue;\nuse crate::{job::JobFailure, metrics};\nlet x = crate::redact::url(u);";
    let found: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(found, ["job", "metrics", "queue", "redact"]);
}

/// The Rust guests' folders: every crate under `plugins/` that builds a
/// component (`cdylib`), and the Rust plugin template.
fn rust_guests(root: &Path) -> Vec<std::path::PathBuf> {
    let mut guests: Vec<_> = std::fs::read_dir(root.join("plugins"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|t| t.contains("cdylib"))
        })
        .collect();
    guests.push(root.join("examples/plugin-templates/rust"));
    guests.sort();
    guests
}

/// One copy of the contract's Rust code: `plugins/guest` generates the
/// bindings and holds what every guest would repeat; each Rust plugin and
/// the template use it and generate none of their own.
#[test]
fn every_rust_guest_takes_its_bindings_from_the_guest_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let guests = rust_guests(&root);
    assert!(guests.len() >= 7, "the guests were not found: {guests:?}");
    let mut wrong = Vec::new();
    for dir in guests {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        if !manifest.contains("deckhand-guest") {
            wrong.push(format!("{} does not use deckhand-guest", dir.display()));
        }
        let mut files = Vec::new();
        rust_files(&dir.join("src"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            if text.contains("wit_bindgen::generate!") {
                wrong.push(format!("{} generates its own bindings", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The queue's connection layer (`queue/net/`: one server, a cluster,
/// Sentinel, TLS) is a leaf: it imports nothing of the queue above it.
#[test]
fn the_queues_connection_layer_imports_nothing_of_the_queue() {
    let net = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/queue/net");
    let mut files = Vec::new();
    rust_files(&net, &mut files);
    assert!(files.len() >= 4, "queue/net/ was not found: {files:?}");
    let mut wrong = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let is_root = file.ends_with("mod.rs");
        for line in text.lines() {
            let code = line.trim_start();
            // In `net/mod.rs` a `super::` at the top is the queue itself.
            let up = code.contains("super::super")
                || (is_root && line.starts_with("use super::"))
                || code.contains("crate::queue::") && !code.contains("crate::queue::net");
            if up && !code.starts_with("//") {
                wrong.push(format!("{}: {code}", file.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "net imports the queue:\n{}",
        wrong.join("\n")
    );
}

/// The queue modules a file under a folder of `queue/` names: through
/// `crate::queue::` and through the `super::` chain that reaches the queue
/// from it (`super::` in a folder's `mod.rs`, `super::super::` below),
/// paths and `{...}` groups alike.
fn queue_imports(file: &Path, text: &str) -> BTreeSet<String> {
    let up = if file.ends_with("mod.rs") {
        "super::"
    } else {
        "super::super::"
    };
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    for prefix in ["crate::queue::", up] {
        for (at, _) in code.match_indices(prefix) {
            // From a `mod.rs`, `super::super::x` leaves the queue: neither
            // `super::` of it is the queue's.
            if code[..at].ends_with("super::") {
                continue;
            }
            let rest = &code[at + prefix.len()..];
            if rest.starts_with("super::") {
                continue;
            }
            let names = match rest.strip_prefix('{') {
                Some(group) => group[..group.find('}').unwrap_or(group.len())].to_string(),
                None => rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect(),
            };
            for name in names.split(',') {
                let name = name.trim().split("::").next().unwrap_or("");
                if !name.is_empty() {
                    found.insert(name.to_string());
                }
            }
        }
    }
    found
}

#[test]
fn the_queue_import_reader_sees_both_depths_and_groups() {
    let text = "use super::super::{keys::key, router};\n// use super::super::relay;\nuse crate::queue::notifier::Topic;\nuse super::Partition;";
    let below: Vec<String> = queue_imports(Path::new("queue/partition/lease.rs"), text)
        .into_iter()
        .collect();
    assert_eq!(below, ["keys", "notifier", "router"]);
    let root: Vec<String> = queue_imports(Path::new("queue/calls/mod.rs"), text)
        .into_iter()
        .collect();
    assert_eq!(root, ["Partition", "notifier"]);
}

/// The queue's modules that hold router code: every file or folder
/// directly under `queue/` with an `impl Queue` block.
fn router_modules(queue: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(queue).into_iter().flatten().flatten() {
        let path = entry.path();
        let Some(name) = path.file_stem().and_then(|n| n.to_str()) else {
            continue;
        };
        let mut files = Vec::new();
        rust_files(&path, &mut files);
        let routes = files.iter().any(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            text.lines()
                .any(|l| l.trim_start().starts_with("impl Queue {"))
        });
        if routes && name != "mod" {
            found.push(name.to_string());
        }
    }
    found.sort();
    found
}

/// Whether a source text names `word` outside comment lines.
fn names_word(text: &str, word: &str) -> bool {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .flat_map(|l| l.split(|c: char| !c.is_alphanumeric() && c != '_'))
        .any(|w| w == word)
}

/// The queue's inner layers, each knowing nothing of the ones above it:
/// the script calls (`queue/calls/`: a type per function) name no
/// partition and no router; the partitions (`queue/partition/`: one slot's
/// scripts and reads) name no `Queue` and import no module of the router
/// (any with an `impl Queue` block: where a job goes, claims across
/// partitions, the relay, the notifier, ...); the types both fill live
/// below them (`figures.rs`, `record.rs`, `error.rs`, `calls/`). And the router never
/// re-enters itself: an async function that calls itself needs `Box::pin`,
/// which nothing in the queue above `net/` uses.
#[test]
fn the_queues_partitions_import_nothing_of_the_router() {
    let queue = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/queue");
    let router = router_modules(&queue);
    for m in [
        "router",
        "route",
        "relay",
        "shared_content",
        "notifier",
        "submit",
    ] {
        assert!(
            router.iter().any(|r| r == m),
            "queue::{m} was not seen as the router's"
        );
    }
    for m in [
        "error",
        "keys",
        "figures",
        "record",
        "partition",
        "calls",
        "net",
    ] {
        assert!(
            !router.iter().any(|r| r == m),
            "queue::{m} was taken for the router's"
        );
    }
    let below_partitions: Vec<String> =
        router.iter().cloned().chain(["partition".into()]).collect();
    let layers: [(&str, &[String], &[&str]); 2] = [
        ("partition", &router, &["Queue"]),
        ("calls", &below_partitions, &["Queue", "Partition"]),
    ];
    let mut wrong = Vec::new();
    for (folder, modules, types) in layers {
        let mut files = Vec::new();
        rust_files(&queue.join(folder), &mut files);
        assert!(files.len() >= 6, "queue/{folder}/ was not found: {files:?}");
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            let imports = queue_imports(file, &text);
            for m in modules.iter().filter(|m| imports.contains(*m)) {
                wrong.push(format!("{}: imports queue::{m}", file.display()));
            }
            for t in types.iter().filter(|t| names_word(&text, t)) {
                wrong.push(format!("{}: names {t}", file.display()));
            }
        }
    }
    let mut all = Vec::new();
    rust_files(&queue, &mut all);
    // `net/` boxes futures for the connection trait, not to recurse.
    for file in all.iter().filter(|f| !f.starts_with(queue.join("net"))) {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text
            .lines()
            .any(|l| l.contains("Box::pin(") && !l.trim_start().starts_with("//"))
        {
            wrong.push(format!("{}: re-enters itself (Box::pin)", file.display()));
        }
    }
    assert!(
        wrong.is_empty(),
        "a lower layer of the queue that reaches a higher one, or a router that calls itself:\n{}",
        wrong.join("\n")
    );
}
