"""The quickstart: a calculator agent written with the plain ``openai`` client, trained by GRPO."""
