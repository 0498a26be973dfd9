"""Large language models on OpenAI-compatible servers, behind the :class:`LLMClient` port."""

from newspeech.llm.client import (
    ChatCompletion,
    ChatMessage,
    LLMClient,
    OpenAIChatClient,
    parse_json_object,
)

__all__ = ["ChatCompletion", "ChatMessage", "LLMClient", "OpenAIChatClient", "parse_json_object"]
