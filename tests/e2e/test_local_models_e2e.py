"""`mia research`, `mia ask` and `mia doctor` against each local server's dialect (tests/fakes/local_llm.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.chat_llm import ChatLLM
from fakes.local_llm import LocalServer
from fakes.research_llm import ResearchLLM
from fakes.server import FakeServices, LLMReply, ScriptedLLM
from fakes.small_model import SmallModelLLM

from .conftest import Mia, base_env

MODEL = "local-model"
SLOTS = {"llama.cpp": 1, "llama-cpp-python": 1, "ollama": 1, "vllm": 8}  # vLLM batches; the others queue


def local_env(fake: FakeServices) -> dict[str, str]:
    return {**fake.env(), "MIA_LLM_PROVIDER": "openai", "MIA_LLM_MODEL": MODEL}


@pytest.fixture
def served(request: pytest.FixtureRequest, mia_home: Path) -> Iterator[tuple[FakeServices, LocalServer, Mia]]:
    dialect, llm = request.param
    local = LocalServer(dialect, n_ctx=8192, slots=SLOTS[dialect], tokens_per_s=4000)
    with FakeServices(llm=llm, local=local) as fake:
        yield fake, local, Mia({**base_env(mia_home), **local_env(fake)})


def research_json(mia: Mia, *extra: str) -> tuple[int, dict, str]:
    result = mia.run("research", "DMD treatments", "--depth", "quick", "--json", *extra)
    return result.returncode, json.loads(result.stdout), result.stderr


JSON_SENT = {"llama.cpp": "json_schema", "llama-cpp-python": "json_object", "ollama": "json_schema",
             "vllm": "json_schema"}


@pytest.mark.parametrize("served", [(d, ResearchLLM()) for d in JSON_SENT], indirect=True,
                         ids=list(JSON_SENT))
def test_research_runs_on_each_local_server_one_request_at_a_time(served: tuple[FakeServices, LocalServer, Mia],
                                                                   mia_home: Path) -> None:
    fake, local, mia = served
    code, out, err = research_json(mia)
    assert code == 0, err
    assert out["status"] == "done" and out["sources"] > 5
    chats = [r.json for r in fake.requests if r.path == "/openai/v1/chat/completions"]
    structured = [c["response_format"]["type"] for c in chats if c.get("response_format")]
    assert set(structured) == {JSON_SENT[local.dialect]}
    assert local.refused == [] and local.peak <= SLOTS[local.dialect]  # one slot: never two requests at once
    # llama-cpp-python does not say its n_ctx: its documented default, 2,048, is assumed
    context = 2048 if local.dialect == "llama-cpp-python" else 8192
    assert all(c["max_tokens"] <= context // 2 for c in chats)  # at most half the context
    profiles = json.loads((mia_home / "cache" / "llm-profiles.json").read_text())["profiles"]
    (profile,) = profiles.values()
    assert profile["dialect"] == local.dialect and profile["context_tokens"] == context


@pytest.mark.parametrize("served", [("llama-cpp-python", ResearchLLM())], indirect=True)
def test_a_server_refusing_json_schema_is_asked_once_then_remembered(served: tuple[FakeServices, LocalServer, Mia],
                                                                      mia_home: Path) -> None:
    fake, local, mia = served
    (mia_home / "cache").mkdir(parents=True)  # a profile that does not know the dialect yet: a generic server
    entry = {"provider": "openai", "base_url": fake.env()["MIA_LLM_BASE_URL"], "model": MODEL, "dialect": "openai",
             "json_modes": ["json_schema", "json_object", "text"], "discovered_at": 4102444800, "answered": True}
    (mia_home / "cache" / "llm-profiles.json").write_text(json.dumps(
        {"version": 1, "profiles": {f"openai|{entry['base_url']}|{MODEL}": entry}}))
    code, out, err = research_json(mia)
    assert code == 0 and out["status"] == "done", err
    assert local.refused == ["json_schema"]  # one HTTP 500, not six retries, and not again
    assert fake.count("openai", status=500) == 1
    code, _, err = research_json(mia, "--name", "again")
    assert code == 0, err
    assert local.refused == ["json_schema"]


@pytest.mark.parametrize("served", [("llama-cpp-python", SmallModelLLM())], indirect=True)
def test_a_small_model_without_enforced_json_plans_from_the_shape_in_the_prompt(
        served: tuple[FakeServices, LocalServer, Mia]) -> None:
    fake, _, mia = served
    code, out, err = research_json(mia)
    assert code == 0 and out["status"] == "done", err
    assert fake.llm.prose_answers == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("served", [("ollama", ResearchLLM())], indirect=True)
def test_a_failed_research_json_prints_the_failure_on_stdout(served: tuple[FakeServices, LocalServer, Mia]) -> None:
    _, _, mia = served
    result = mia.run("research", "DMD treatments", "--depth", "quick", "--json",
                     extra_env={"MIA_LLM_MODEL": "not-pulled"})  # Ollama: 404, the model was never pulled
    assert result.returncode != 0
    out = json.loads(result.stdout)
    assert out["status"] == "failed" and "not-pulled" in out["error"] and "llm.model" in out["hint"]
    assert "not-pulled" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("served", [("llama-cpp-python", SmallModelLLM(stubborn=True))], indirect=True)
def test_a_model_that_never_writes_the_plan_is_said_so(served: tuple[FakeServices, LocalServer, Mia]) -> None:
    fake, _, mia = served
    code, out, err = research_json(mia)
    assert out["status"] != "failed" or out["hint"], out
    assert fake.llm.prose_answers >= 2  # type: ignore[attr-defined]  # the plan and its one repair
    assert "Traceback" not in err


def pinged(body: dict[str, Any], model: str) -> LLMReply:
    """A model that answers the doctor's JSON ping as asked."""
    assert "[mia:ping]" in body["messages"][0]["content"]
    return LLMReply(data={"ok": True}, prompt_tokens=30, completion_tokens=5)


def test_doctor_names_the_context_json_mode_and_a_missing_model(mia_home: Path) -> None:
    local = LocalServer("llama.cpp", n_ctx=4096, slots=2)
    with FakeServices(llm=pinged, local=local) as fake:
        mia = Mia({**base_env(mia_home), **local_env(fake)})
        result = mia.run("doctor", "--json")
        checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
        model = checks["LLM model"]
        assert model["status"] == "ok" and "4,096" in model["detail"] and "llama.cpp /props" in model["detail"]
        assert "((" not in model["detail"] and "))" not in model["detail"]  # sources say "from", never nest
        assert checks["LLM JSON output"]["status"] == "ok" and "json_schema" in checks["LLM JSON output"]["detail"]
        missing = mia.run("doctor", "--json", extra_env={"MIA_LLM_MODEL": "not-pulled"})
        checks = {c["name"]: c for c in json.loads(missing.stdout)["checks"]}
        assert checks["LLM model"]["status"] == "fail" and "not-pulled" in checks["LLM model"]["detail"]
        assert "llm.model" in checks["LLM model"]["fix"]


CHAT_DIALECTS = ("llama.cpp", "llama-cpp-python", "ollama", "vllm")


@pytest.mark.parametrize("dialect", CHAT_DIALECTS)
def test_ask_with_background_research_on_a_one_at_a_time_server(dialect: str, mia_home: Path) -> None:
    chat = ScriptedLLM([LLMReply(tool_calls=[{"name": "spawn_research",
                                              "arguments": {"question": "DMD treatments", "depth": "quick"}}]),
                        LLMReply(text="I started **dmd-treatments**; " + "it will take a while. " * 40,
                                 completion_tokens=800)])
    local = LocalServer(dialect, n_ctx=8192, slots=SLOTS[dialect], tokens_per_s=2000)
    with FakeServices(llm=ChatLLM(chat, ResearchLLM()), local=local) as fake:
        mia = Mia({**base_env(mia_home), **local_env(fake)})
        result = mia.run("ask", "--json", "Research DMD treatments, please")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["answer"].startswith("I started")
        assert local.peak <= SLOTS[dialect]  # on a one-at-a-time server the research waited for the answer
        assert fake.count("openai", path_contains="/chat/completions") > 3
        assert json.loads((mia_home / "workspace" / "agents" / "dmd-treatments" / "sources.json").read_text())



def test_a_model_slower_than_llm_timeout_is_asked_twice_and_named(mia_home: Path) -> None:
    local = LocalServer("llama.cpp", n_ctx=8192, slots=1, tokens_per_s=40)  # a plan takes ~4.5 s
    with FakeServices(llm=ResearchLLM(), local=local) as fake:
        mia = Mia({**base_env(mia_home), **local_env(fake), "MIA_LLM_TIMEOUT": "1"})
        result = mia.run("research", "DMD treatments", "--depth", "quick", "--json")
        plans = [body for body in local.received if "[mia:plan]" in body["messages"][0]["content"]]
    assert len(plans) == 2 and plans[0] == plans[1]  # retried once, the identical request
    out = json.loads(result.stdout)
    text = f"{out.get('error', '')} {out.get('hint', '')} {' '.join(out.get('notices', []))} {result.stderr}"
    assert "llm.timeout" in text and "network" not in text.lower()


def test_doctor_says_a_workers_ai_model_missing_from_the_catalog(mia_home: Path) -> None:
    with FakeServices(llm=pinged) as fake:
        mia = Mia({**base_env(mia_home), **fake.env()})
        checks = {c["name"]: c for c in json.loads(mia.run("doctor", "--json").stdout)["checks"]}
        assert checks["LLM model"]["status"] == "ok" and "24,000 tokens" in checks["LLM model"]["detail"]
        assert checks["LLM JSON output"]["status"] == "ok"
        assert "bare json_schema" in checks["LLM JSON output"]["detail"]  # from the model's input schema
        gone = mia.run("doctor", "--json", extra_env={"MIA_LLM_MODEL": "@cf/meta/llama-3-8b-instruct"})
        checks = {c["name"]: c for c in json.loads(gone.stdout)["checks"]}
        assert checks["LLM model"]["status"] == "fail" and "catalog" in checks["LLM model"]["detail"]
        assert gone.returncode == 1
