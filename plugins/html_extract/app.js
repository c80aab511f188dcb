// `html_extract`: a scraped pantry web page into clean text and the obvious
// fields (name, address, phone, email, website, hours text), so the LLM
// alignment step reads a few hundred tokens instead of a whole page.
// A Deckhand job type written in JavaScript (componentize-js).
//
// Payload: {"html": "<html>..."}. Result: {name, address, phone, email,
// website, hours_text, text, missing}; `missing` names what was not found.

import { extract } from "./extract.js";

const MIB = 1024n * 1024n;

function fail(message) {
  return { tag: "fail", val: message };
}

export const handler = {
  describe() {
    return {
      name: "html_extract",
      version: "0.1.0",
      jobTypes: [
        { name: "html_extract", description: "A pantry web page into clean text and fields.", needsLlm: false, timeoutMs: 10000n, memoryLimitBytes: undefined },
        // Exists so the tests can show that a JavaScript component is held
        // to its deadline and memory cap like any other.
        { name: "html_extract.limits_probe", description: "Loops or allocates on request.", needsLlm: false, timeoutMs: 2000n, memoryLimitBytes: 128n * MIB },
      ],
    };
  },

  process(job) {
    let payload;
    try {
      payload = JSON.parse(job.payload);
    } catch (e) {
      throw fail(`payload is not JSON: ${e.message}`);
    }
    if (job.jobType === "html_extract.limits_probe") {
      if (payload.do === "loop") {
        let n = 0;
        for (;;) n++;
      }
      if (payload.do === "alloc") {
        const hoard = [];
        for (;;) hoard.push(new Uint8Array(16 * 1024 * 1024).fill(7));
      }
      throw fail('limits_probe takes {"do": "loop"} or {"do": "alloc"}');
    }
    if (!payload || typeof payload.html !== "string") {
      throw fail('payload must be {"html": "<page>"}');
    }
    const result = extract(payload.html);
    if (result.text.length === 0) {
      throw fail("the page has no visible text");
    }
    return JSON.stringify(result);
  },
};
