"""A minimal Deckhand job type in Python: {"name": "Ada"} -> {"greeting": "Hello, Ada!"}.

Build (componentize-py 0.25.1 from PyPI), from this folder:
    componentize-py -d ../../../wit -w job-plugin componentize app -o hello_python.wasm
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types


class Handler(exports.Handler):
    def describe(self):
        return types.PluginInfo(
            name="hello-python",
            version="0.1.0",
            job_types=[
                types.JobTypeInfo(
                    name="hello.python",
                    description="Greets payload.name.",
                    needs_llm=False,
                    timeout_ms=5_000,
                    memory_limit_bytes=None,
                )
            ],
        )

    def process(self, job):
        try:
            payload = json.loads(job.payload)
        except ValueError as e:
            raise Err(types.JobError_Fail(f"payload is not JSON: {e}"))
        name = payload.get("name") if isinstance(payload, dict) else None
        if not isinstance(name, str):
            # Fail: retrying will not help. JobError_Retry for transient problems.
            raise Err(types.JobError_Fail("payload.name is missing"))
        return json.dumps({"greeting": f"Hello, {name}!"})
