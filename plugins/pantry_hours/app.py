"""`pantry_hours`: free-text pantry opening hours into HSDS `schedule` objects.

A Deckhand job type written in Python (componentize-py). Deterministic, no
LLM: it takes work off the alignment step. Payload: `{"hours": "..."}` (or a
bare JSON string). Result: `{"schedules": [...], "unparsed": [...]}`, where
`unparsed` lists the parts it could not read. Nothing readable at all is a
failure with the reason, not a guess.
"""

import json

import hours
from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log, types


def job_type(name, description, timeout_ms=None, memory_limit_bytes=None):
    return types.JobTypeInfo(
        name=name,
        description=description,
        needs_llm=False,
        timeout_ms=timeout_ms,
        memory_limit_bytes=memory_limit_bytes,
    )


def fail(message):
    return Err(types.JobError_Fail(message))


class Handler(exports.Handler):
    def describe(self):
        return types.PluginInfo(
            name="pantry_hours",
            version="0.1.0",
            job_types=[
                job_type("pantry_hours", "Free-text opening hours into HSDS schedules.", 10_000),
                # Exists so the tests can show that a Python component is held
                # to its deadline and memory cap like any other.
                job_type("pantry_hours.limits_probe", "Loops or allocates on request.",
                         2_000, 128 * 1024 * 1024),
            ],
        )

    def process(self, job):
        try:
            payload = json.loads(job.payload)
        except ValueError as e:
            raise fail(f"payload is not JSON: {e}")
        if job.job_type == "pantry_hours.limits_probe":
            return probe(payload)
        text = payload.get("hours") if isinstance(payload, dict) else payload
        if not isinstance(text, str):
            raise fail('payload must be {"hours": "<text>"} or a JSON string')
        schedules, unparsed = hours.parse(text)
        if not schedules:
            raise fail(f"no opening hours could be read from {text!r}")
        if unparsed:
            log.log(log.Level.WARN, "parts of the hours were not understood",
                    [("unparsed", json.dumps(unparsed))])
        return json.dumps({"schedules": schedules, "unparsed": unparsed})


def probe(payload):
    what = payload.get("do") if isinstance(payload, dict) else None
    if what == "loop":
        n = 0
        while True:
            n += 1
    if what == "alloc":
        hoard = []
        while True:
            hoard.append(bytearray(8 * 1024 * 1024))
    raise fail('limits_probe takes {"do": "loop"} or {"do": "alloc"}')
