// A minimal Deckhand job type in JavaScript: {"name": "Ada"} -> {"greeting": "Hello, Ada!"}.
//
// Build (componentize-js 0.23.0 from npm), from this folder:
//   npx componentize-js app.js -w ../../../wit -n job-plugin -d http fetch-event -o hello_js.wasm
// (`-d http fetch-event` keeps wasi:http out: the host does not grant it.)
// The component's JavaScript engine is not node's: it has no
// `String.prototype.normalize`, for one. Run a job type through the
// component (`deckhand exec hello_js.wasm -`), not only under node.

export const handler = {
  describe() {
    return {
      name: "hello-js",
      version: "0.1.0",
      // u64 fields are BigInts; absent options are `undefined`.
      jobTypes: [{ name: "hello.js", description: "Greets payload.name.", needsLlm: false, timeoutMs: 5000n, memoryLimitBytes: undefined }],
    };
  },

  process(job) {
    let payload;
    try {
      payload = JSON.parse(job.payload);
    } catch (e) {
      throw { tag: "fail", val: `payload is not JSON: ${e.message}` };
    }
    if (typeof payload?.name !== "string") {
      // `fail`: retrying will not help; `{tag: "retry", val}` for transient problems.
      throw { tag: "fail", val: "payload.name is missing" };
    }
    return JSON.stringify({ greeting: `Hello, ${payload.name}!` });
  },
};
