"""wiring-qa: questions about 'Wiring It Up' (2001), answered with the report's own paragraph numbers.

from assistant import ReportAssistant
qa = ReportAssistant()
ans = qa.ask("Tell me the size of the Policy Innovation Fund.")
"""

from assistant.core import ReportAssistant, build_parts
from assistant.settings import Settings, get_settings
from assistant.types import Answer, BadInput, Citation, Source

__all__ = ["Answer", "BadInput", "Citation", "ReportAssistant", "Settings", "Source", "build_parts", "get_settings"]
