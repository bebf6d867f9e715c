"""APO: automatic prompt optimisation by textual gradients and beam search (ProTeGi).

Per round, for every prompt in the beam: run it on a train minibatch through the runners, show
the critic model the worst rollouts (what the agent's LLM was sent and answered, from the spans),
ask the editor model for ``branch_factor`` rewrites per critique; then spend a budget of val
minibatch "pulls" on the beam plus the new candidates (UCB or successive rejects) and keep the
``beam_width`` best. After the last round the final beam and the initial prompt are scored on the
whole val set, and the best is published as the latest resources (``trainer.best_resources()``).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from agentlightning_core.algorithm import Algorithm, AlgorithmResult, TrainerContext
from agentlightning_core.triplet import TraceToTriplet
from agentlightning_core.types import LLM, PromptTemplate, Resource

from .aio import gather_or_cancel
from .chat import ChatClient, describe, with_key_from_env
from .config import APOConfig
from .expand import expand
from .progress import RoundProgress
from .report import write_outputs
from .selection import new_selection, run_selection
from .state import APOState, Candidate, FinalEvaluation, RoundRecord, ValSample

log = logging.getLogger(__name__)

INITIAL_ID = "r0"


class APO(Algorithm):
    """Optimise the ``PromptTemplate`` resources of an agent.

    :param config: an :class:`APOConfig` (or a dict of its fields); keyword arguments override it.
    :param critic: the LLM that writes critiques — any OpenAI-compatible endpoint. Default: the
        trainer's own engine through its proxy (``ctx.default_llm()``).
    :param editor: the LLM that rewrites prompts. Default: the critic.
    :param resources: the resources to start from. Default: the trainer's ``initial_resources``.
    """

    name = "apo"

    def __init__(
        self,
        config: APOConfig | Mapping[str, Any] | None = None,
        *,
        critic: LLM | Mapping[str, Any] | None = None,
        editor: LLM | Mapping[str, Any] | None = None,
        resources: Mapping[str, Resource] | None = None,
        **params: Any,
    ) -> None:
        base = config.model_dump() if isinstance(config, APOConfig) else dict(config or {})
        self.config = APOConfig.model_validate({**base, **params})
        self.critic = LLM.model_validate(critic) if isinstance(critic, Mapping) else critic
        self.editor = LLM.model_validate(editor) if isinstance(editor, Mapping) else editor
        self.resources = dict(resources) if resources else None
        self.state: APOState | None = None
        self._published: set[str] = set()

    # ------------------------------------------------------------------------- setup
    def output_dir(self, ctx: TrainerContext) -> Path:
        return ctx.output_dir / self.config.output_subdir

    def _base_resources(self, ctx: TrainerContext) -> tuple[dict[str, Resource], list[str]]:
        resources: dict[str, Resource] = dict(self.resources or ctx.initial_resources)
        prompts = [n for n, r in resources.items() if isinstance(r, PromptTemplate)]
        if not prompts:
            raise ValueError(
                "APO optimises PromptTemplate resources, but the initial resources have none "
                f"(names: {', '.join(resources) or 'none'}); pass e.g. "
                "initial_resources={'prompt': PromptTemplate(template='... {request} ...')} to the Trainer"
            )
        names = self.config.prompt_names or prompts
        for name in names:
            if not isinstance(resources.get(name), PromptTemplate):
                raise ValueError(
                    f"prompt_names lists {name!r}, which is not a PromptTemplate among the initial "
                    f"resources (PromptTemplates: {', '.join(prompts)})"
                )
        if not any(isinstance(r, LLM) for r in resources.values()) and ctx.proxy_url is not None:
            resources["main_llm"] = ctx.default_llm()
        return resources, list(names)

    def _clients(self, ctx: TrainerContext, http: httpx.AsyncClient) -> tuple[ChatClient, ChatClient]:
        cfg = self.config
        critic = self.critic
        if critic is None:
            try:
                critic = ctx.default_llm()
            except RuntimeError:
                raise ValueError(
                    "APO needs a critic model: pass critic=LLM(endpoint=..., model=...) to APO, or run "
                    "the trainer with an engine so that its proxy can serve as the default"
                ) from None
        critic = with_key_from_env(critic, cfg.critic_api_key_env, "critic")
        editor = self.editor if self.editor is not None else critic
        editor = with_key_from_env(editor, cfg.editor_api_key_env, "editor")
        common: dict[str, Any] = {"timeout": cfg.llm_timeout, "retries": cfg.llm_retries, "http": http}
        return (
            ChatClient(critic, role="critic", sampling=cfg.critic_sampling, **common),
            ChatClient(editor, role="editor", sampling=cfg.editor_sampling, **common),
        )

    def _load_or_new(
        self,
        path: Path,
        initial: dict[str, PromptTemplate],
        n_val: int,
        clients: tuple[ChatClient, ChatClient],
    ) -> APOState:
        cfg = self.config
        if cfg.resume and path.exists():
            state = APOState.load(path)
            if state.fingerprint != cfg.fingerprint():
                raise ValueError(
                    f"the checkpoint {path} was made with other settings ({state.fingerprint}) than this run "
                    f"({cfg.fingerprint()}); use the same settings, or resume=False to start over"
                )
            if state.candidates[state.initial_id].prompts != initial or len(state.val_order) != n_val:
                raise ValueError(
                    f"the checkpoint {path} was made with another initial prompt or val set; "
                    "resume=False starts over (and overwrites it)"
                )
            log.info("APO resumes from %s after %d finished round(s)", path, _finished(state))
            return state
        if path.exists():
            log.info("APO starts over; %s will be overwritten (resume=True continues it)", path)
        order = list(range(n_val))
        random.Random(f"{cfg.seed}:val").shuffle(order)
        state = APOState(
            fingerprint=cfg.fingerprint(),
            initial_id=INITIAL_ID,
            val_order=order,
            critic=describe(clients[0].llm),
            editor=describe(clients[1].llm),
            started=time.time(),
        )
        state.candidates[INITIAL_ID] = Candidate(id=INITIAL_ID, prompts=initial, status="initial", rank=(0,))
        state.beam = [INITIAL_ID]
        return state

    async def _publish(self, ctx: TrainerContext, base: dict[str, Resource], cand: Candidate) -> str:
        """Publish the candidate's resources unless the store already has them (it may be a new
        store after a resume)."""
        rid = cand.resources_id
        if rid is not None and (rid in self._published or await ctx.store.get_resources(rid) is not None):
            self._published.add(rid)
            return rid
        update = await ctx.publish_resources({**base, **cand.prompts})
        cand.resources_id = update.resources_id
        self._published.add(update.resources_id)
        return update.resources_id

    # --------------------------------------------------------------------------- run
    async def run(self, ctx: TrainerContext) -> AlgorithmResult:
        cfg = self.config
        self._published = set()  # a new run may come with a new store
        train = list(ctx.train_data)
        if not train:
            raise ValueError("APO needs training data: Trainer.fit(agent, train_data=[...], val_data=[...])")
        val = list(ctx.val_data) if ctx.val_data else []
        if not val:
            log.warning("APO got no val data: candidates are scored on the train data (not held out)")
            val = train
        base, names = self._base_resources(ctx)
        initial: dict[str, PromptTemplate] = {n: r for n in names if isinstance(r := base[n], PromptTemplate)}
        out = self.output_dir(ctx)
        path = out / "checkpoint.json"
        transform = TraceToTriplet(agent_match=cfg.agent_match)
        began = time.monotonic()
        async with httpx.AsyncClient(timeout=cfg.llm_timeout) as http:
            critic, editor = self._clients(ctx, http)
            state = self.state = self._load_or_new(path, initial, len(val), (critic, editor))
            elapsed_before = state.elapsed_s

            def checkpoint() -> None:
                state.elapsed_s = elapsed_before + time.monotonic() - began
                state.save(path)

            done = _finished(state)
            if done < cfg.rounds:
                state.final = None
            with RoundProgress(ctx, cfg.rounds) as progress:
                for round_ in range(done + 1, cfg.rounds + 1):
                    await self._round(
                        ctx,
                        state,
                        round_,
                        base,
                        names,
                        train,
                        val,
                        critic,
                        editor,
                        transform,
                        checkpoint,
                        progress,
                    )
                if state.final is None:
                    progress.phase(cfg.rounds, "final evaluation")
                    await self._final(ctx, state, base, val)
                    checkpoint()
        best = state.candidates[state.final.best_id] if state.final else state.candidates[state.beam[0]]
        best_score = state.final.scores[best.id] if state.final else best.mean
        update = await ctx.publish_resources({**base, **best.prompts})  # the best is also the latest
        ctx.best_resources_id = update.resources_id
        initial_score = state.final.scores.get(state.initial_id) if state.final else None
        ctx.log_metrics(
            {
                "apo/best_id": best.id,
                "apo/best_val": best_score,
                "apo/initial_val": initial_score,
                "apo/candidates": sum(1 for c in state.candidates.values() if c.status == "candidate"),
                "apo/rejected_edits": sum(1 for c in state.candidates.values() if c.status == "rejected"),
                "apo/duplicate_edits": sum(1 for c in state.candidates.values() if c.status == "duplicate"),
                "apo/elapsed_s": state.elapsed_s,
            },
            step=cfg.rounds + 1,
        )
        paths = write_outputs(state, out, best.id, update.resources_id)
        log.info(
            "APO best prompt %s: val %.3f (initial %s); report %s",
            best.id,
            best_score,
            initial_score,
            paths["report"],
        )
        return AlgorithmResult(
            best_resources_id=update.resources_id,
            best_score=best_score,
            metrics=ctx.metrics_history,
            extra={
                "best_candidate": best.id,
                "best_prompts": {n: t.template for n, t in best.prompts.items()},
                "initial_score": initial_score,
                **{k: str(v) for k, v in paths.items()},
            },
        )

    async def _round(
        self,
        ctx: TrainerContext,
        state: APOState,
        round_: int,
        base: dict[str, Resource],
        names: list[str],
        train: Sequence[Any],
        val: Sequence[Any],
        critic: ChatClient,
        editor: ChatClient,
        transform: TraceToTriplet,
        checkpoint: Any,
        progress: RoundProgress,
    ) -> None:
        cfg = self.config
        if state.rounds and state.rounds[-1].round == round_:
            record = state.rounds[-1]
        else:
            record = RoundRecord(round=round_, beam_before=list(state.beam), started=time.time())
            state.rounds.append(record)
            checkpoint()
        progress.phase(round_ - 1, f"round {round_}/{cfg.rounds}: critique and edit")

        async def expand_one(position: int, parent_id: str) -> None:
            parent = state.candidates[parent_id]
            await self._publish(ctx, base, parent)
            target = names[(round_ - 1 + position) % len(names)]
            expansion, children = await expand(
                ctx,
                cfg,
                parent,
                position=position,
                round_=round_,
                target=target,
                train=train,
                critic=critic,
                editor=editor,
                transform=transform,
            )
            for child in children:
                state.candidates[child.id] = child
            record.expansions[parent_id] = expansion
            checkpoint()

        await gather_or_cancel(
            *(expand_one(p, pid) for p, pid in enumerate(record.beam_before) if pid not in record.expansions)
        )
        new = _dedupe(state, round_)
        arms = list(record.beam_before) + [c.id for c in new]
        for arm in arms:
            await self._publish(ctx, base, state.candidates[arm])
        if record.selection is None:
            record.selection = new_selection(
                cfg.selection, arms, state, keep=cfg.beam_width, budget=cfg.selection_budget
            )
            checkpoint()
        selection = record.selection
        bs = min(cfg.val_batch_size, len(val))

        async def pull(batch: list[str]) -> None:
            await gather_or_cancel(
                *(self._score(ctx, state.candidates[a], val, state.val_order, bs, round_) for a in batch)
            )
            progress.phase(
                round_ - 1,
                f"round {round_}/{cfg.rounds}: scoring ({selection.used + len(batch)}/{selection.budget} pulls)",
            )

        kept = await run_selection(selection, state, pull, ucb_c=cfg.ucb_c, checkpoint=checkpoint)
        state.beam = list(kept)
        for cid in kept:
            if round_ not in state.candidates[cid].in_beam_after:
                state.candidates[cid].in_beam_after.append(round_)
        record.beam_after = list(kept)
        record.finished = time.time()
        checkpoint()
        best = state.candidates[kept[0]]
        ctx.log_metrics(
            {
                "apo/round": round_,
                "apo/beam": list(kept),
                "apo/beam_best_mean": best.mean,
                "apo/beam_best_pulls": best.pulls,
                "apo/new_candidates": len(new),
                "apo/edits_rejected": sum(
                    1 for c in state.candidates.values() if c.round == round_ and c.status == "rejected"
                ),
                "apo/edits_duplicate": sum(
                    1 for c in state.candidates.values() if c.round == round_ and c.status == "duplicate"
                ),
                "apo/pulls": selection.used,
                "apo/train_reward_mean": _mean([e.train_mean for e in record.expansions.values()]),
            },
            step=round_,
        )
        log.info("APO round %d: beam %s (best mean %.3f over %d pulls)", round_, kept, best.mean, best.pulls)
        progress.phase(round_, f"round {round_}/{cfg.rounds} done")

    async def _score(
        self, ctx: TrainerContext, cand: Candidate, val: Sequence[Any], order: list[int], bs: int, round_: int
    ) -> None:
        """One pull: the candidate's next ``bs`` tasks of the shared val order (so every candidate
        meets the same tasks in the same order, and comparisons are paired)."""
        start = len(cand.samples)
        indices = [order[(start + j) % len(order)] for j in range(bs)]
        outcomes = await ctx.run_rollouts(
            [val[i] for i in indices],
            mode="val",
            resources_id=cand.resources_id,
            description=f"apo round {round_}: score {cand.id}",
        )
        cand.samples.extend(
            ValSample(index=i, reward=o.reward, rollout_id=o.rollout.rollout_id)
            for i, o in zip(indices, outcomes, strict=True)
        )
        cand.pulls += 1

    async def _final(
        self, ctx: TrainerContext, state: APOState, base: dict[str, Resource], val: Sequence[Any]
    ) -> None:
        cfg = self.config
        if not cfg.final_eval:
            return
        finalists = list(dict.fromkeys([*state.beam, state.initial_id]))
        n = min(len(val), cfg.final_eval_size or len(val))
        items = [val[i] for i in state.val_order[:n]]
        for cid in finalists:
            await self._publish(ctx, base, state.candidates[cid])
        evaluations = await gather_or_cancel(
            *(
                ctx.evaluate(
                    items, resources_id=state.candidates[c].resources_id, description=f"apo final: {c}"
                )
                for c in finalists
            )
        )
        scores = {c: e.mean_reward for c, e in zip(finalists, evaluations, strict=True)}
        for cid, score in scores.items():
            state.candidates[cid].final_score = score
            state.candidates[cid].final_n = n
        best = max(
            finalists, key=lambda c: (scores[c], state.candidates[c].mean, _neg(state.candidates[c].rank))
        )
        state.final = FinalEvaluation(candidates=finalists, n=n, scores=scores, best_id=best)


def _finished(state: APOState) -> int:
    return sum(1 for r in state.rounds if r.finished is not None)


def _neg(rank: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(-r for r in rank)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _dedupe(state: APOState, round_: int) -> list[Candidate]:
    """This round's valid children in rank order; an edit identical to an earlier scoreable
    candidate (of any round) becomes ``duplicate`` and is not scored again."""
    children = sorted(
        (c for c in state.candidates.values() if c.round == round_ and c.id != state.initial_id),
        key=lambda c: c.rank,
    )
    seen: dict[str, str] = {}
    for cand in sorted(state.candidates.values(), key=lambda c: c.rank):
        if cand.round < round_ and cand.scoreable:
            seen.setdefault(_key(cand), cand.id)
    fresh = []
    for child in children:
        if child.status == "duplicate" and child.duplicate_of is not None:
            continue
        if not child.scoreable:
            continue
        key = _key(child)
        if key in seen:
            child.status = "duplicate"
            child.duplicate_of = seen[key]
            child.reason = f"same prompt as {seen[key]}"
            continue
        seen[key] = child.id
        fresh.append(child)
    return fresh


def _key(cand: Candidate) -> str:
    return "\x00".join(f"{n}\x01{t.engine}\x01{t.template.strip()}" for n, t in sorted(cand.prompts.items()))
