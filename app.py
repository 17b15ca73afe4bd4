"""Start the chat. (The Gradio app replaces this terminal loop.)"""

import sys

from assistant.cli import main

if __name__ == "__main__":
    sys.exit(main(["chat"]))
