"""One table of what is known about Workers AI models before asking the service: context size, prices,
output shape and JSON-mode shape, each with where the figure comes from.

The model profile (`mia.agents.llm.profile`) starts from this table and corrects it from the service
(`GET /accounts/{id}/ai/models/schema` and `/ai/models/search`); the table only answers when the service
cannot be asked. Prices are US dollars per million tokens; Workers AI bills in neurons at
`prices.usd_per_1k_neurons` (list price $0.011), so each price is also given as neurons per million tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

USD_PER_1K_NEURONS_LIST_PRICE = 0.011

MODEL_JSON = "cloudflare-docs workers-ai-models/{name}.json"
NEURON_TABLE = "Workers AI neuron price table (docs/workers-ai/platform/pricing.mdx)"
THIRD_PARTY = "third-party price list (API_NOTES 1.7, unconfirmed)"


@dataclass(frozen=True)
class ModelFacts:
    """What the table says about one model; `None` where nothing reliable is known.

    `output` is "legacy" (`result.response`) or "openai" (`result.choices`); `json_schema` is "bare" (the
    JSON Schema itself in `response_format.json_schema`) or "wrapped" (`{name, schema, strict}`).
    """

    model: str
    context_tokens: int | None
    usd_in_per_m: float | None
    usd_out_per_m: float | None
    output: str | None
    json_schema: str | None
    context_source: str
    price_source: str
    neurons_per_m: tuple[float, float] | None = None  # overrides the $-derived neurons when the docs give them
    tool_call_ids: bool = False  # a legacy model whose schema takes `tool_call_id` on tool messages
    no_think: bool = False  # honours Qwen3's `/no_think` soft switch (Qwen3 model card, "Switching Between
    # Thinking and Non-Thinking Mode")

    @property
    def neurons(self) -> tuple[float, float] | None:
        """Neurons per million (input, output) tokens."""
        if self.neurons_per_m is not None:
            return self.neurons_per_m
        if self.usd_in_per_m is None or self.usd_out_per_m is None:
            return None
        return (self.usd_in_per_m / USD_PER_1K_NEURONS_LIST_PRICE * 1000,
                self.usd_out_per_m / USD_PER_1K_NEURONS_LIST_PRICE * 1000)


def _doc(name: str) -> str:
    return MODEL_JSON.format(name=name)


WORKERS_AI: dict[str, ModelFacts] = {facts.model: facts for facts in (
    ModelFacts("@cf/meta/llama-3.3-70b-instruct-fp8-fast", 24_000, 0.29, 2.25, "legacy", "bare",
               _doc("llama-3.3-70b-instruct-fp8-fast"), NEURON_TABLE, (26_668, 204_805)),
    ModelFacts("@cf/meta/llama-4-scout-17b-16e-instruct", 131_000, 0.27, 0.85, "legacy", "bare",
               _doc("llama-4-scout-17b-16e-instruct"), _doc("llama-4-scout-17b-16e-instruct"), tool_call_ids=True),
    ModelFacts("@cf/qwen/qwen3-30b-a3b-fp8", 32_768, 0.051, 0.34, "openai", "wrapped",
               _doc("qwen3-30b-a3b-fp8"), _doc("qwen3-30b-a3b-fp8"), no_think=True),
    ModelFacts("@cf/openai/gpt-oss-120b", 128_000, 0.35, 0.75, "openai", "wrapped",
               _doc("gpt-oss-120b"), _doc("gpt-oss-120b")),
    ModelFacts("@cf/openai/gpt-oss-20b", None, 0.20, 0.30, "openai", "wrapped",
               "unknown", THIRD_PARTY),
    ModelFacts("@cf/zai-org/glm-4.7-flash", 131_072, 0.0605, 0.40, "openai", "wrapped",
               _doc("glm-4.7-flash"), _doc("glm-4.7-flash")),
    ModelFacts("@cf/moonshotai/kimi-k2.6", 262_144, 0.95, 4.00, "openai", "wrapped",
               _doc("kimi-k2.6"), _doc("kimi-k2.6")),
    ModelFacts("@hf/nousresearch/hermes-2-pro-mistral-7b", 24_000, None, None, "legacy", "bare",
               _doc("hermes-2-pro-mistral-7b"), "unknown"),
)}
_BY_NAME = {model.rsplit("/", 1)[-1]: facts for model, facts in WORKERS_AI.items()}


def facts_for(model: str) -> ModelFacts | None:
    """The table's row for a Workers AI model id (also found by its last path part), else None."""
    return WORKERS_AI.get(model) or _BY_NAME.get(model.rsplit("/", 1)[-1])


def neurons_table() -> dict[str, tuple[float, float]]:
    """Neurons per million (input, output) tokens of every model with a known price."""
    return {model: rates for model, facts in WORKERS_AI.items() if (rates := facts.neurons) is not None}
