//! Keeps the sizes the house holds to: no source file over 500 lines and no
//! function over 80, in the host, the plugins (Rust guests and the shared
//! `hsds` crate), the plugin templates and `xtask`, the queue's Lua included (a `local function`,
//! and a function body file's own code outside its local functions).

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 500;
const MAX_FN_LINES: usize = 80;

/// Every `.rs` and `.lua` file under the checked folders.
fn sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    for dir in ["host/src", "plugins", "xtask/src", "examples"] {
        walk(&root.join(dir), &mut out);
    }
    out.sort();
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            // Build output and downloaded packages are not ours.
            if !matches!(name.as_str(), "target" | "node_modules") && !name.starts_with('.') {
                walk(&path, out);
            }
        } else if name.ends_with(".rs") || name.ends_with(".lua") {
            out.push(path);
        }
    }
}

/// The Rust functions of `text` longer than `MAX_FN_LINES`: a line that
/// declares a function with a body, to the line that closes it at the same
/// indentation.
fn long_rust_functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = rust_fn_name(line) else {
            continue;
        };
        let indent = line.len() - line.trim_start().len();
        let close = format!("{}}}", " ".repeat(indent));
        let Some(end) = (i + 1..lines.len()).find(|&j| lines[j].trim_end() == close) else {
            continue;
        };
        if end - i + 1 > MAX_FN_LINES {
            out.push((name, end - i + 1));
        }
    }
    out
}

/// The name a line declares a function with a body by (`pub(crate) async
/// fn name(`), none for anything else (a trait's declaration ends in `;`).
fn rust_fn_name(line: &str) -> Option<String> {
    let mut rest = line.trim_start();
    if rest.trim_end().ends_with(';') || rest.starts_with("//") {
        return None;
    }
    for prefix in ["pub(crate) ", "pub(super) ", "pub "] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    for prefix in ["async ", "const ", "unsafe "] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let name = rest.strip_prefix("fn ")?;
    let name: String = name
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The Lua functions of `text` longer than `MAX_FN_LINES` (to the `end`
/// at their indentation), and the file's own code (what a body file runs
/// as its function) when more than that many lines of code.
fn long_lua_functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let (mut i, mut own_code) = (0, 0);
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let declared = trimmed
            .strip_prefix("local function ")
            .or_else(|| trimmed.strip_prefix("function "));
        if let Some(name) = declared {
            let indent = &line[..line.len() - trimmed.len()];
            let close = format!("{indent}end");
            let end = (i + 1..lines.len())
                .find(|&j| lines[j].trim_end() == close)
                .unwrap_or(lines.len() - 1);
            if end - i + 1 > MAX_FN_LINES {
                let name: String = name.chars().take_while(|c| *c != '(').collect();
                out.push((name, end - i + 1));
            }
            i = end + 1;
            continue;
        }
        if !trimmed.is_empty() && !trimmed.starts_with("--") {
            own_code += 1;
        }
        i += 1;
    }
    if own_code > MAX_FN_LINES {
        out.push(("(the file's own code)".to_string(), own_code));
    }
    out
}

#[test]
fn no_file_over_500_lines_and_no_function_over_80() {
    let files = sources();
    assert!(files.len() > 100, "found the sources: {}", files.len());
    let mut problems = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("a source file");
        let shown = path.display().to_string();
        let lines = text.lines().count();
        if lines > MAX_FILE_LINES {
            problems.push(format!("{shown}: {lines} lines"));
        }
        let long = if shown.ends_with(".lua") {
            long_lua_functions(&text)
        } else {
            long_rust_functions(&text)
        };
        for (name, n) in long {
            problems.push(format!("{shown}: {name} is {n} lines"));
        }
    }
    assert!(
        problems.is_empty(),
        "over {MAX_FILE_LINES} lines a file or {MAX_FN_LINES} a function:\n{}",
        problems.join("\n")
    );
}

/// The end-to-end suites and bench drivers under `tests/` keep files under
/// 500 lines too; a test's steps may run longer than 80 lines, so their
/// functions are not held to it.
#[test]
fn no_test_file_over_500_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests");
    let mut files = Vec::new();
    walk(&root, &mut files);
    assert!(files.len() > 30, "found the test files: {}", files.len());
    let long: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let lines = std::fs::read_to_string(path).ok()?.lines().count();
            (lines > MAX_FILE_LINES).then(|| format!("{}: {lines} lines", path.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "test files over {MAX_FILE_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_readers_find_long_functions_in_both_languages() {
    let body = "    x += 1;\n".repeat(MAX_FN_LINES);
    let rust = format!("impl A {{\n    pub(crate) async fn long(&self) {{\n{body}    }}\n}}\n");
    assert_eq!(long_rust_functions(&rust), [("long".to_string(), 82)]);
    let short = "fn f() {\n    g();\n}\ntrait T {\n    fn h(&self);\n}\n";
    assert!(long_rust_functions(short).is_empty());
    let lua_body = "    x = x + 1\n".repeat(MAX_FN_LINES);
    let lua = format!("local function long(a)\n{lua_body}end\nlocal y = 1\n");
    assert_eq!(long_lua_functions(&lua), [("long".to_string(), 82)]);
    let top = "redis.call('GET', 'k')\n".repeat(MAX_FN_LINES + 1);
    assert_eq!(long_lua_functions(&top)[0].1, MAX_FN_LINES + 1);
}
