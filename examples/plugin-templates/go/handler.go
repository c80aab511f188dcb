// A minimal Deckhand job type in Go: {"name": "Ada"} -> {"greeting": "Hello, Ada!"}.
//
// `wit-bindgen go` (0.61) generates the bindings around this file; the
// generated package `export_deckhand_plugin_handler` is where the exports
// live, so this file goes there. `cargo xtask templates` does all of it:
//
//	wit-bindgen go ../../../wit -o build            # bindings, go.mod
//	cp handler.go build/export_deckhand_plugin_handler/
//	# go.mod: replace go.bytecodealliance.org/pkg with the copy shipped in the
//	# wit-bindgen-go crate (the Go module proxy is not needed)
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o core.wasm
//	wasm-tools component embed ../../../wit core.wasm -o embedded.wasm
//	wasm-tools component new embedded.wasm \
//	    --adapt wasi_snapshot_preview1=wasi_snapshot_preview1.reactor.wasm -o hello_go.wasm
package export_deckhand_plugin_handler

import (
	"encoding/json"
	"fmt"

	"wit_component/deckhand_plugin_types"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
)

type result = witTypes.Result[string, deckhand_plugin_types.JobError]

func Describe() deckhand_plugin_types.PluginInfo {
	return deckhand_plugin_types.PluginInfo{
		Name:    "hello-go",
		Version: "0.1.0",
		JobTypes: []deckhand_plugin_types.JobTypeInfo{{
			Name:             "hello.go",
			Description:      "Greets payload.name.",
			NeedsLlm:         false,
			TimeoutMs:        witTypes.Some[uint64](5000),
			MemoryLimitBytes: witTypes.None[uint64](),
		}},
	}
}

func Process(job deckhand_plugin_types.Job) result {
	var payload struct {
		Name *string `json:"name"`
	}
	if err := json.Unmarshal([]byte(job.Payload), &payload); err != nil {
		return fail(fmt.Sprintf("payload is not JSON: %v", err))
	}
	if payload.Name == nil {
		// Fail: retrying will not help. MakeJobErrorRetry for transient problems.
		return fail("payload.name is missing")
	}
	out, err := json.Marshal(map[string]string{"greeting": "Hello, " + *payload.Name + "!"})
	if err != nil {
		return fail(err.Error())
	}
	return witTypes.Ok[string, deckhand_plugin_types.JobError](string(out))
}

func fail(message string) result {
	return witTypes.Err[string, deckhand_plugin_types.JobError](deckhand_plugin_types.MakeJobErrorFail(message))
}
