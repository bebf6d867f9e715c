"""LLM engine ``litellm``: the trainer's proxy forwards OpenAI-shaped calls to any provider
LiteLLM's SDK speaks (Anthropic, Gemini, Bedrock, Mistral, ...) and answers in OpenAI's shape."""

from .engine import LiteLLMEngine

__all__ = ["LiteLLMEngine"]
