"""Start the chat and the doors for programs: one shared ReportAssistant, one process, one port
(`python app.py`). The Gradio chat is mounted at "/" on the FastAPI app that serves /api/v1 and /v1."""

from __future__ import annotations

import sys
import time

from assistant import ReportAssistant, get_settings
from assistant.http_api import build_api
from assistant.web import build_app, launch_options, mount_options
from index.store import build_index


def main() -> int:
    settings = get_settings()
    started = time.perf_counter()
    # Build first (when missing or stale) so the console shows progress instead of a silent wait.
    print(f"wiring-qa: checking the index at {settings.index.path} …", flush=True)
    result = build_index(settings.index, progress=lambda _f, msg: print(f"wiring-qa: {msg}", flush=True))
    print(f"wiring-qa: index {'built' if result['built'] else 'ready'} in {result['seconds']:.1f} s", flush=True)
    qa = ReportAssistant(settings=settings)
    # Load the embedding model now, not on the first user's question.
    qa.ask("Tell me the size of the Policy Innovation Fund.")
    print(f"wiring-qa: assistant ready in {time.perf_counter() - started:.1f} s", flush=True)
    options = launch_options(settings)
    if options["server_name"] not in ("127.0.0.1", "localhost", "::1") and not options["auth"]:
        print(f"wiring-qa: warning: listening on {options['server_name']} without auth", file=sys.stderr)
    serve(qa, settings, options)
    return 0


def serve(qa: ReportAssistant, settings, options: dict) -> None:
    import gradio as gr
    import uvicorn

    app = gr.mount_gradio_app(build_api(qa, settings), build_app(qa, settings), path="/", **mount_options(settings))
    host, port = options["server_name"], options["server_port"]
    shown = f"[{host}]" if ":" in host else host
    print(f"wiring-qa: chat on http://{shown}:{port}/ · JSON API on /api/v1 · OpenAI-compatible on /v1", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def run() -> int:
    """main(), with failures reported in one line rather than a traceback."""
    try:
        return main()
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the user gets one line; the cause is in the message
        line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        print(f"wiring-qa: {line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(run())
