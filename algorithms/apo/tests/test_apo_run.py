"""APO end to end over a real store and real runners, with the scripted critic and editor behind a
real HTTP server: the beam, the selection and the bookkeeping must do exactly what the docs say.

Every candidate's reward on every task is known from its text (see conftest), so each recorded
score can be checked against the truth, not just for plausibility.
"""

from __future__ import annotations

import json
import logging
import math
import random
from typing import Any

import pytest
from agentlightning_apo import APOState, load_best_prompts
from agentlightning_apo.chat import ChatError
from agentlightning_apo.expand import train_indices
from agentlightning_apo.selection import best_by_mean, sr_schedule

from agentlightning_core.types import PromptTemplate

LABELS = ("billing", "shipping", "account", "tech")


def rules(text: str) -> set[str]:
    return {lab for lab in LABELS if f"RULE:{lab}" in text}


def load(ctx: Any) -> APOState:
    return APOState.load(ctx.output_dir / "apo" / "checkpoint.json")


def history(ctx: Any) -> dict[str, Any]:
    return json.loads((ctx.output_dir / "apo" / "history.json").read_text())


def check_bookkeeping(
    state: APOState, cfg: Any, train: list[dict[str, str]], val: list[dict[str, str]]
) -> None:
    """Everything the README promises about candidates, beams, scores and selection."""
    bs = min(cfg.val_batch_size, len(val))
    # the shared val order is a seeded shuffle
    order = list(range(len(val)))
    random.Random(f"{cfg.seed}:val").shuffle(order)
    assert state.val_order == order
    for cand in state.candidates.values():
        text = cand.prompts["prompt"].template
        # every pull scores the candidate's next bs tasks of the shared order, with the true reward
        assert [s.index for s in cand.samples] == [order[k % len(order)] for k in range(len(cand.samples))]
        assert len(cand.samples) == cand.pulls * bs
        for sample in cand.samples:
            assert sample.reward == (1.0 if val[sample.index]["label"] in rules(text) else 0.0)
        if cand.parent_id is None:
            assert cand.status == "initial"
            continue
        parent = state.candidates[cand.parent_id]
        assert parent.round < cand.round
        assert cand.parent_id in state.rounds[cand.round - 1].beam_before
        if cand.status == "candidate":
            # the scripted editor adds exactly one rule, for a label the critique named
            added = rules(text) - rules(parent.prompts["prompt"].template)
            assert len(added) == 1 and text.startswith(parent.prompts["prompt"].template)
            assert next(iter(added)) in (cand.critique or "")
        if cand.status == "duplicate":
            twin = state.candidates[cand.duplicate_of or ""]
            assert twin.prompts == cand.prompts and twin.rank < cand.rank and cand.pulls == 0
        if cand.status == "rejected":
            assert cand.pulls == 0 and cand.reason
    previous_beam = [state.initial_id]
    for record in state.rounds:
        assert record.beam_before == previous_beam
        sel = record.selection
        assert sel is not None and sel.done
        fresh = sorted(
            (c for c in state.candidates.values() if c.round == record.round and c.status == "candidate"),
            key=lambda c: c.rank,
        )
        assert sel.arms == record.beam_before + [c.id for c in fresh]
        for parent_id, exp in record.expansions.items():
            assert exp.train_indices == train_indices(cfg, len(train), record.round, parent_id)
            parent_rules = rules(state.candidates[parent_id].prompts["prompt"].template)
            truth = [1.0 if train[i]["label"] in parent_rules else 0.0 for i in exp.train_indices]
            assert exp.train_rewards == truth
            assert exp.failures == truth.count(0.0)
            for crit in exp.critiques:
                assert len(crit.failures) == min(cfg.failures_per_critique, exp.failures)
                assert len(crit.children) == cfg.branch_factor
        # pulls: the first batch scores every unscored arm; UCB spends the budget exactly when arms > keep,
        # successive rejects at most (its schedule assumes no carried pulls and rounds down)
        assert sum(len(b) for b in sel.pull_log) == sel.used <= sel.budget
        assert sel.pull_log[0] == [
            a for a in sel.arms if a not in record.beam_before or a == state.initial_id and record.round == 1
        ]
        if len(sel.arms) > sel.keep and sel.strategy == "ucb":
            assert sel.used == sel.budget
        if sel.strategy == "successive_rejects":
            assert len(sel.rejected) == max(0, len(sel.arms) - sel.keep)
        assert record.beam_after == sel.kept
        previous_beam = record.beam_after
    assert state.beam == previous_beam
    # the last round's kept set is the best means at the end of it (later rounds do not rescore it)
    last = state.rounds[-1].selection
    assert last is not None
    alive = [a for a in last.arms if a not in last.rejected]
    assert last.kept == best_by_mean(alive, state, cfg.beam_width)
    if state.final is not None:
        assert state.final.candidates == list(dict.fromkeys([*state.beam, state.initial_id]))
        for cid, score in state.final.scores.items():
            expected = sum(
                1
                for i in order[: state.final.n]
                if val[i]["label"] in rules(state.candidates[cid].prompts["prompt"].template)
            )
            assert score == pytest.approx(expected / state.final.n)
        assert state.final.scores[state.final.best_id] == max(state.final.scores.values())


async def test_apo_finds_better_prompts_and_records_everything(harness: Any) -> None:
    apo = harness.apo(rounds=3, beam_width=2, branch_factor=2, train_batch_size=6, val_batch_size=4)
    result, ctx = await harness.run(apo)
    state = load(ctx)
    check_bookkeeping(state, apo.config, ctx.train_data, ctx.val_data)
    # the scripted search improves on the initial prompt (which scores 0)
    assert state.final is not None and state.final.scores["r0"] == 0.0
    assert result.best_score == state.final.scores[state.final.best_id] > 0.5
    assert result.extra["initial_score"] == 0.0
    # the best is published, and as the latest version
    latest = await harness.store.get_resources()
    assert latest is not None and latest.resources_id == result.best_resources_id == ctx.best_resources_id
    best_prompt = latest.resources["prompt"]
    assert isinstance(best_prompt, PromptTemplate)
    assert best_prompt.template == state.candidates[state.final.best_id].prompts["prompt"].template
    # history.json is the state plus the headline; report.md names the best and shows its prompt
    hist = history(ctx)
    assert hist["best_id"] == state.final.best_id and hist["best_score"] == result.best_score
    assert set(hist["candidates"]) == set(state.candidates)
    report = (ctx.output_dir / "apo" / "report.md").read_text()
    assert f"Best candidate **{state.final.best_id}**" in report and best_prompt.template in report
    for cid in state.candidates:
        assert f"| {cid} |" in report
    # the documented way to get the result in a later process: best_prompt.json
    assert load_best_prompts(ctx.output_dir / "apo") == {"prompt": best_prompt.template}
    assert load_best_prompts(ctx.output_dir / "apo" / "best_prompt.json") == {"prompt": best_prompt.template}
    # one metrics record per round plus the final one, in metrics.jsonl too
    rounds = [m for m in ctx.metrics_history if "apo/round" in m]
    assert [m["apo/round"] for m in rounds] == [1, 2, 3]
    assert len((ctx.output_dir / "metrics.jsonl").read_text().splitlines()) == 4


async def test_the_critic_sees_what_the_agent_was_sent_and_answered(harness: Any) -> None:
    apo = harness.apo(rounds=1, train_batch_size=6, failures_per_critique=3)
    _, ctx = await harness.run(apo)
    state = load(ctx)
    critic_calls = [r for r in harness.server.requests if r.system.startswith("You review the prompt")]
    assert len(critic_calls) == 1
    message = critic_calls[0].user
    expansion = state.rounds[0].expansions["r0"]
    shown = expansion.critiques[0].failures
    assert len(shown) == 3
    # each failure: the task, its reward, the filled-in prompt the model got, and its answer
    for rollout_id in shown:
        index = expansion.train_rollouts.index(rollout_id)
        task = ctx.train_data[expansion.train_indices[index]]
        assert f"Task: {json.dumps(task)}" in message
        assert f"[user] Route this support request to a team.\nRequest: {task['text']}\nTeam:" in message
    assert message.count("[assistant] unknown") == 3
    assert message.count("Reward: 0") == 3
    assert "The agent did badly on 6 of 6 tasks" in message
    # the editor got the critique and the current prompt
    editor_calls = [r for r in harness.server.requests if r.system.startswith("You improve prompts")]
    assert len(editor_calls) == apo.config.branch_factor
    assert all(state.rounds[0].expansions["r0"].critiques[0].text in r.user for r in editor_calls)
    # seeds differ per edit, so the b edits of one critique can differ
    assert len({r.body["seed"] for r in editor_calls}) == apo.config.branch_factor


async def test_successive_rejects_run(harness: Any) -> None:
    apo = harness.apo(
        rounds=2,
        beam_width=2,
        branch_factor=3,
        selection="successive_rejects",
        selection_budget=20,
        val_batch_size=3,
    )
    _, ctx = await harness.run(apo)
    state = load(ctx)
    check_bookkeeping(state, apo.config, ctx.train_data, ctx.val_data)
    for record in state.rounds:
        sel = record.selection
        assert sel is not None
        if len(sel.arms) > sel.keep:
            schedule = sr_schedule(len(sel.arms), sel.keep, sel.budget)
            survivors = [a for a in sel.arms if a not in sel.rejected]
            assert all(state.candidates[a].pulls >= schedule[-1] for a in survivors)


async def test_broken_edits_are_rejected_with_a_reason_and_never_scored(harness: Any) -> None:
    harness.script.editor_mode = "drop_placeholder"
    _, ctx = await harness.run(harness.apo(rounds=1, branch_factor=2))
    state = load(ctx)
    children = [c for c in state.candidates.values() if c.parent_id == "r0"]
    assert len(children) == 2
    for child in children:
        assert child.status == "rejected" and child.pulls == 0
        assert child.reason == "the edited prompt dropped placeholder(s) {text}"
        assert child.editor_reply == "<prompt>Route it. Team:</prompt>"
    assert state.beam == ["r0"] and state.final is not None and state.final.best_id == "r0"
    report = (ctx.output_dir / "apo" / "report.md").read_text()
    assert "No candidate beat the initial prompt (0 edit(s) scored, 2 rejected)" in report


async def test_with_missing_placeholders_append_a_broken_edit_is_repaired_and_scored(harness: Any) -> None:
    harness.script.editor_mode = "drop_placeholder"
    _, ctx = await harness.run(harness.apo(rounds=1, branch_factor=2, missing_placeholders="append"))
    state = load(ctx)
    child = state.candidates["r1.0.0.0"]
    assert child.status == "candidate" and child.pulls >= 1
    assert child.prompts["prompt"].template == "Route it. Team:\n\n{text}"
    assert child.repairs == ["appended dropped placeholder(s) {text}"]
    assert state.candidates["r1.0.0.1"].status == "duplicate"


async def test_an_unchanged_prompt_is_a_duplicate_of_its_parent(harness: Any) -> None:
    harness.script.editor_mode = "same"
    _, ctx = await harness.run(harness.apo(rounds=1))
    state = load(ctx)
    dupes = [c for c in state.candidates.values() if c.status == "duplicate"]
    assert len(dupes) == 2 and all(d.duplicate_of == "r0" for d in dupes)


async def test_a_prompt_with_no_failures_is_not_expanded(harness: Any) -> None:
    perfect = PromptTemplate(template="{text}\n" + "\n".join(f"RULE:{lab}" for lab in LABELS))
    _, ctx = await harness.run(harness.apo(rounds=1), initial_resources={"prompt": perfect})
    state = load(ctx)
    assert state.rounds[0].expansions["r0"].note is not None
    assert list(state.candidates) == ["r0"]
    assert not [r for r in harness.server.requests if r.system.startswith("You review")]


async def test_resume_after_a_crash_ends_where_an_uninterrupted_run_ends(harness: Any) -> None:
    params = {"rounds": 3, "beam_width": 2, "train_batch_size": 6, "val_batch_size": 4}
    whole, whole_ctx = await harness.run(harness.apo(**params), out="whole")
    # round 2's critic call fails: the run stops with the error, its checkpoint holds round 1
    original_call = harness.script.__call__
    calls = {"critic": 0}

    def failing_in_round_two(req: Any) -> Any:
        if req.system.startswith("You review the prompt"):
            calls["critic"] += 1
            if calls["critic"] == 2:
                return 503, "overloaded"
        return original_call(req)

    harness.server.script = failing_in_round_two
    with pytest.raises(ChatError, match="HTTP 503"):
        await harness.run(harness.apo(**params, llm_retries=0), out="crash")
    crashed = APOState.load(harness.tmp_path / "crash" / "apo" / "checkpoint.json")
    assert [r.finished is not None for r in crashed.rounds] == [True, False]
    harness.server.script = original_call
    resumed, resumed_ctx = await harness.run(harness.apo(**params, resume=True), out="crash")
    a, b = load(whole_ctx), load(resumed_ctx)
    assert {
        k: (c.prompts, c.parent_id, c.status, [s.index for s in c.samples], [s.reward for s in c.samples])
        for k, c in a.candidates.items()
    } == {
        k: (c.prompts, c.parent_id, c.status, [s.index for s in c.samples], [s.reward for s in c.samples])
        for k, c in b.candidates.items()
    }
    assert [r.beam_after for r in a.rounds] == [r.beam_after for r in b.rounds]
    assert resumed.best_score == whole.best_score
    check_bookkeeping(b, harness.apo(**params).config, resumed_ctx.train_data, resumed_ctx.val_data)


async def test_resume_with_more_rounds_continues_the_search(harness: Any) -> None:
    _, ctx = await harness.run(harness.apo(rounds=1))
    first = load(ctx)
    _, ctx = await harness.run(harness.apo(rounds=2, resume=True))
    second = load(ctx)
    assert [r.round for r in second.rounds] == [1, 2]
    assert second.rounds[0].model_dump() == first.rounds[0].model_dump()
    assert second.rounds[1].beam_before == first.beam


async def test_resume_refuses_a_checkpoint_made_with_other_settings(harness: Any) -> None:
    await harness.run(harness.apo(rounds=1))
    with pytest.raises(ValueError, match="other settings"):
        await harness.run(harness.apo(rounds=1, beam_width=3, resume=True))
    other = {"prompt": PromptTemplate(template="Other: {text}")}
    with pytest.raises(ValueError, match="another initial prompt"):
        await harness.run(harness.apo(rounds=1, resume=True), initial_resources=other)


async def test_api_keys_come_from_the_environment_and_never_reach_logs_or_files(
    harness: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-test-" + "7f3a9c" * 6
    monkeypatch.setenv("APO_TEST_CRITIC_KEY", secret)
    caplog.set_level(logging.DEBUG)
    apo = harness.apo(rounds=1, critic_api_key_env="APO_TEST_CRITIC_KEY")
    result, ctx = await harness.run(apo)
    assert harness.server.requests
    assert all(r.headers["Authorization"] == f"Bearer {secret}" for r in harness.server.requests)
    assert secret not in caplog.text and "7f3a9c" not in caplog.text
    for path in (ctx.output_dir).rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(), path
    assert secret not in repr(result) and secret not in json.dumps(result.extra)
    page = await harness.store.query_resources()
    assert all(secret not in u.model_dump_json() for u in page.items)
    # an error says which variable to set, and shows no key
    monkeypatch.delenv("APO_TEST_CRITIC_KEY")
    with pytest.raises(ChatError, match=r"\$APO_TEST_CRITIC_KEY"):
        await harness.run(harness.apo(rounds=1, critic_api_key_env="APO_TEST_CRITIC_KEY"), out="nokey")


async def test_a_rejected_key_fails_fast_with_the_endpoint_named(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.script.critic_status = 401
    apo = harness.apo(rounds=1, critic_api_key_env="APO_TEST_KEY")
    monkeypatch.setenv("APO_TEST_KEY", "sk-wrong-key-123456")
    with pytest.raises(ChatError) as info:
        await harness.run(apo)
    assert harness.server.url in str(info.value) and "HTTP 401" in str(info.value)
    assert "sk-wrong-key-123456" not in str(info.value)
    assert (
        len([r for r in harness.server.requests if r.system.startswith("You review")]) == 1
    )  # 401 is not retried


async def test_without_prompt_templates_apo_says_what_to_pass(harness: Any) -> None:
    with pytest.raises(ValueError, match="PromptTemplate"):
        await harness.run(harness.apo(), initial_resources={})
    with pytest.raises(ValueError, match="prompt_names lists 'nope'"):
        await harness.run(harness.apo(prompt_names=["nope"]))


async def test_final_eval_off_picks_the_beam_leader_by_its_minibatch_mean(harness: Any) -> None:
    result, ctx = await harness.run(harness.apo(rounds=2, final_eval=False))
    state = load(ctx)
    assert state.final is None
    assert result.extra["best_candidate"] == state.beam[0]
    assert math.isclose(result.best_score or 0.0, state.candidates[state.beam[0]].mean)


async def test_several_prompts_are_edited_round_robin_one_per_expansion(harness: Any) -> None:
    resources = {
        "prompt": PromptTemplate(template="Route: {text}"),
        "footer": PromptTemplate(template="Be brief."),
    }
    apo = harness.apo(rounds=2, beam_width=2, branch_factor=1)
    _, ctx = await harness.run(apo, initial_resources=resources)
    state = load(ctx)
    names = ["prompt", "footer"]  # the order of the initial resources
    for record in state.rounds:
        for position, parent_id in enumerate(record.beam_before):
            expansion = record.expansions[parent_id]
            assert expansion.target == names[(record.round - 1 + position) % 2]
    for cand in state.candidates.values():
        if cand.parent_id is None or cand.status == "rejected":
            continue
        parent = state.candidates[cand.parent_id]
        other = "footer" if cand.edited == "prompt" else "prompt"
        assert cand.prompts[other] == parent.prompts[other]
        assert (
            cand.prompts[cand.edited or ""] != parent.prompts[cand.edited or ""] or cand.status == "duplicate"
        )
    # both templates are published with each candidate
    latest = await harness.store.get_resources()
    assert latest is not None and set(latest.resources) == {"prompt", "footer"}
    with pytest.raises(ValueError, match="prompt_names lists 'main'"):
        await harness.run(harness.apo(prompt_names=["main"]), initial_resources=resources)
