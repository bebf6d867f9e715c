"""Attribute names shared by every tracer, adapter and transform.

OpenTelemetry GenAI semantic-convention names (``gen_ai.*``) are used where they exist; the
``agentlightning.*`` names carry what RL needs and the conventions do not define (token ids,
log-probs, rewards, agent attribution of a call).
"""

SPAN_TYPE = "agentlightning.span_type"  # llm | reward | tool | agent | other

# Rewards
REWARD_SPAN_NAME = "agentlightning.reward"
REWARD_VALUE = "agentlightning.reward.value"
REWARD_NAME = "agentlightning.reward.name"

# LLM calls (proxy and adapters)
LLM_SPAN_NAME = "gen_ai.chat"
GEN_AI_OPERATION = "gen_ai.operation.name"  # chat | text_completion
GEN_AI_SYSTEM = "gen_ai.system"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"

LLM_REQUEST = "agentlightning.llm.request"  # the request body (JSON object)
LLM_RESPONSE = "agentlightning.llm.response"  # the response body (JSON object)
LLM_PROMPT_TOKEN_IDS = "agentlightning.llm.prompt_token_ids"
LLM_COMPLETION_TOKEN_IDS = "agentlightning.llm.completion_token_ids"
LLM_COMPLETION_LOGPROBS = "agentlightning.llm.completion_logprobs"
LLM_WEIGHTS_VERSION = "agentlightning.llm.weights_version"
#: the LoRA adapter that answered (engines that serve adapters; its version is LLM_WEIGHTS_VERSION)
LLM_ADAPTER = "agentlightning.llm.adapter"
LLM_LATENCY_MS = "agentlightning.llm.latency_ms"

# Agent attribution: adapters (and callers through the ``X-AGL-Agent`` header) name the agent
AGENT_NAME = GEN_AI_AGENT_NAME
AGENT_HEADER = "x-agl-agent"

# Tools
TOOL_ARGUMENTS = "agentlightning.tool.arguments"
TOOL_RESULT = "agentlightning.tool.result"
