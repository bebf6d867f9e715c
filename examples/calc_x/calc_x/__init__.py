"""Calc-X example: an AutoGen solver with an MCP calculator tool, trained with Agent Lightning."""
