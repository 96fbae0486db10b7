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
# Marks the first placeholder while the later ones are removed (a noncharacter: no
# prompt holds it).
_MARK = "\uffff"


def _remove_placeholders(text: str) -> str:
    return _BLANK_RUN.sub("\n\n", _PLACEHOLDER.sub("", _PLACEHOLDER_LINE.sub("", text)))


def render_memory_instructions(template: str, memory_text: str | None) -> str:
    """Put the caller's memory block into an instructions template.

    The first ``{{memory}}`` is replaced by ``memory_text``; later ones are removed (a
    template put together from parts that each carry one would otherwise send the
    caller's memory twice). With no memory (memory
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
        first = _PLACEHOLDER.search(template)
        assert first is not None
        head, rest = template[:first.start()], template[first.end():]
        if _PLACEHOLDER.search(rest):
            head, _, rest = _remove_placeholders(head + _MARK + rest).partition(_MARK)
        # Joined, not substituted: memory text is data (a backslash or a "{{memory}}" in
        # what the caller said stays literal).
        return head + memory + rest
    return _remove_placeholders(template).strip()
