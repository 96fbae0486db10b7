"""The ``{{memory}}`` placeholder: where the session-start memory block goes in a prompt.

Framework-free, so every integration renders instructions the same way.
"""

from __future__ import annotations

import re

__all__ = ["MEMORY_PLACEHOLDER", "render_memory_instructions"]

MEMORY_PLACEHOLDER = "{{memory}}"

# ``{{ memory }}`` is how people write it in Jinja-flavoured prompts; accept both.
_PLACEHOLDER = re.compile(r"\{\{\s*memory\s*\}\}")
# A placeholder alone on its line: removing only the token would leave a blank line.
_PLACEHOLDER_LINE = re.compile(r"^[ \t]*\{\{\s*memory\s*\}\}[ \t]*(?:\r?\n|$)", re.MULTILINE)
_BLANK_RUN = re.compile(r"\n{3,}")


def render_memory_instructions(template: str, memory_text: str | None) -> str:
    """Put the caller's memory block into an instructions template.

    Where ``{{memory}}`` appears it is replaced by ``memory_text``. With no memory (memory
    disabled, an anonymous caller, a first-time caller, or a failed preload) the
    placeholder is removed cleanly: a line holding only the placeholder disappears and no
    run of blank lines is left behind. A template without the placeholder gets the block
    appended after a blank line, so memory still reaches the model.

    Example::

        render_memory_instructions("You are Ava.\\n\\n{{memory}}\\n\\nBe brief.", block)
        render_memory_instructions("You are Ava.\\n{{memory}}\\nBe brief.", "")
        # -> "You are Ava.\\nBe brief."
    """
    memory = (memory_text or "").strip()
    if not _PLACEHOLDER.search(template):
        if not memory:
            return template
        return f"{template.rstrip()}\n\n{memory}"
    if memory:
        # A function replacement: memory text is data, so backslashes in it stay literal.
        return _PLACEHOLDER.sub(lambda _match: memory, template)
    cleaned = _PLACEHOLDER_LINE.sub("", template)
    cleaned = _PLACEHOLDER.sub("", cleaned)
    return _BLANK_RUN.sub("\n\n", cleaned).strip()
