"""The served-model pool: loaded versions with their batchers, and the alias follower.

Each served version owns one :class:`~modelport.runtime.batching.Batcher` whose
list-in/list-out function concatenates the requests' validated inputs, predicts once and
splits the results. A background task polls the registry for what every followed pointer
(``name`` = latest, ``name@alias``) resolves to; when one moves, the new version is loaded
and warmed in a thread, then the routing table is swapped in one step on the event loop.
Requests already routed to the old version finish on it; it is retired afterwards.

The repository routes load a reference and stop serving one while the server runs
(:meth:`ModelPool.load_ref`, :meth:`ModelPool.unload_ref`): loading happens in a thread as
the follower's does, and both hold the lock the follower's poll holds, so a poll never
re-adds a pointer that was just unloaded.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelport.errors import (
    DataError,
    ModelNotFound,
    NonFinitePrediction,
    NotFoundError,
    OutOfDistribution,
)
from modelport.loaded import LoadedModel, load_model, non_finite_rows
from modelport.monitoring.outliers import OutlierScorer, OutlierScores, scorer_for
from modelport.predictions import LoggedBatch, PredictionLogWriter
from modelport.reference import Reference, parse
from modelport.registry import Registry
from modelport.runtime.batching import INLINE_SECONDS, Batcher
from modelport.runtime.config import ServeConfig
from modelport.runtime.metrics import Metrics
from modelport.runtime.routing import Router, pointer
from modelport.runtime.statistics import VersionStatistics
from modelport.schema import Signature

log = logging.getLogger("modelport.serving")

#: one request's share of a batch result: predictions and, if asked, probabilities
Prediction = tuple[np.ndarray, np.ndarray | None]
#: one request in a batch: validated input, wants probabilities, prediction ids, arrival
#: time, the deployment that routed it with its sticky key (None for a direct call), and
#: when it entered the queue (0.0 for the warm-up call, which statistics leave out)
Item = tuple[Any, bool, list[str] | None, float, str | None, str | None, float]


def _rows_of(item: Item) -> int:
    return len(item[0])


class ServedVersion:
    """One loaded version, its batcher and what the protocols need to describe it."""

    def __init__(
        self,
        loaded: LoadedModel,
        config: ServeConfig,
        metrics: Metrics,
        log_writer: PredictionLogWriter | None = None,
    ) -> None:
        self.loaded = loaded
        self.name = loaded.version.name
        self.version = loaded.version.version
        self.version_label = str(self.version)
        #: the X-Model-Version header's value, encoded once
        self.version_header = f"{self.name}:{self.version}".encode("latin-1")
        self.signature: Signature | None = loaded.signature
        self.predictor = loaded.predictor
        self.classes = loaded.predictor.classes
        outputs = self.signature.outputs if self.signature else None
        self.has_proba = bool(outputs.has_proba) if outputs else self.classes is not None
        batch = config.batch_for(self.name)
        rate = config.log_rate_for(self.name) if log_writer is not None else 0.0
        self.log_writer = log_writer if rate > 0 else None
        self.log_rate = rate
        self.feature_names = self.signature.names if self.signature else []
        #: scores each batch against the reference profile (None: no profile)
        self.ood = _scorer(loaded, self.feature_names)
        self.ood_threshold = config.ood_threshold
        #: set when requests above the threshold are refused at validation
        self.ood_reject = self.ood is not None and config.ood_policy_for(self.name) == "reject"
        if self.ood is None and config.ood_policy_for(self.name) == "reject":
            log.warning(
                "%s:%d has no reference profile: --ood-policy reject refuses nothing for it "
                "(register the version with a sample)",
                self.name,
                self.version,
            )
        self._ood_scored = metrics.ood_scored_rows.labels(self.name, self.version_label)
        self._ood_above = metrics.ood_rows.labels(self.name, self.version_label)
        #: Triton-style running totals (GET /v2/models/{name}/stats)
        self.stats = VersionStatistics()
        histogram = metrics.batch_size.labels(self.name, self.version_label)
        metrics.load_seconds.labels(self.name, self.version_label).set(loaded.load_seconds)
        self.batcher: Batcher[Item, Prediction] = Batcher(
            self._predict_batch,
            max_batch_size=batch.max_batch_size,
            max_wait_ms=batch.max_wait_ms,
            max_queue=batch.max_queue,
            name=f"{self.name}:{self.version}",
            on_batch=histogram.observe,
            weigh=_rows_of,
            # a Python model may wait on I/O, which its CPU time does not show: the loop
            # must never be held by it
            inline_seconds=0.0 if loaded.version.flavor == "python" else INLINE_SECONDS,
            on_depth=metrics.follow_queue(self.name, self.version_label, self._depth_reader()),
        )

    def _depth_reader(self) -> Callable[[], int]:
        """The queue depth for the metrics, read through a weak reference: the gauge outlives
        the version (labels stay), and must not keep a retired model in memory."""
        me = weakref.ref(self)

        def depth() -> int:
            served = me()
            return 0 if served is None else served.batcher.depth

        return depth

    def prepare(self, data: Any) -> Any:
        """Validate and coerce one request's input (raises ValidationError naming fields)
        into plain columns: the model-ready input is built once per batch.

        Under the ``reject`` policy a request with a row above the out-of-distribution
        threshold is refused here, before batching, so it never shares a model call with
        others; under ``flag`` (the default) nothing is done per request: the batch is
        scored once in :meth:`_predict_batch`.
        """
        prepared = self.loaded.columns(data)
        if self.ood_reject:
            self._refuse_out_of_distribution(self.loaded.assemble([prepared]))
        return prepared

    def _refuse_out_of_distribution(self, prepared: Any) -> None:
        scorer = self.ood
        if scorer is None:  # switched off by a failure in the batch thread meanwhile
            return
        scores = scorer.score(prepared)
        rows = scores.above(self.ood_threshold)
        if not len(rows):
            return  # counted with its batch, like every answered row
        self._ood_scored.inc(len(scores))
        self._ood_above.inc(len(rows))
        raise OutOfDistribution(
            scorer.problems(prepared, scores, rows),
            hint=f"{self.name} refuses rows unlike its training data (out-of-distribution "
            f"score above {self.ood_threshold:g}); send values in the ranges it was trained on",
        )

    def wants_log(self) -> bool:
        """Whether this request's predictions go to the log (sampled per model)."""
        return self.log_writer is not None and (
            self.log_rate >= 1.0 or random.random() < self.log_rate
        )

    async def predict(
        self,
        prepared: Any,
        *,
        proba: bool = False,
        ids: list[str] | None = None,
        arrived: float = 0.0,
        deployment: str | None = None,
        key: str | None = None,
    ) -> Prediction:
        """Predict through the batcher; ``ids`` (when given) are written to the log."""
        queued = time.perf_counter()
        try:
            result = await self.batcher.submit(
                (prepared, proba, ids, arrived, deployment, key, queued)
            )
        except BaseException:
            self.stats.answered(False, time.perf_counter() - (arrived or queued))
            raise
        self.stats.answered(True, time.perf_counter() - (arrived or queued))
        return result

    def copy(
        self,
        prepared: Any,
        *,
        ids: list[str] | None,
        arrived: float,
        deployment: str,
        key: str | None,
    ) -> asyncio.Future[Prediction]:
        """Queue a copy of a request (a shadow's): nobody waits for it; its future says how
        it went. Raises Overloaded when the queue is full (the copy is then dropped)."""
        queued = time.perf_counter()
        future = self.batcher.enqueue((prepared, False, ids, arrived, deployment, key, queued))
        future.add_done_callback(lambda done: self._copied(done, queued))
        return future

    def _copied(self, done: asyncio.Future[Prediction], queued: float) -> None:
        ok = not done.cancelled() and done.exception() is None
        self.stats.answered(ok, time.perf_counter() - queued)

    def _predict_batch(self, items: list[Item]) -> list[Prediction | NonFinitePrediction]:
        return self._run_batch(items, live=True)

    def _run_batch(
        self, items: list[Item], *, live: bool
    ) -> list[Prediction | NonFinitePrediction]:
        """The batch contract: many validated inputs in, one prediction pair per input out.

        Probabilities are computed when a request asks for them or its predictions are
        logged (the monitor's ROC AUC needs them), in the same model call where that is
        exact; a response carries them only when asked. A request whose rows gave an
        infinite or NaN output gets NonFinitePrediction naming them, is not logged, and
        leaves the other requests of the batch alone. The batch is scored for being unlike
        the training data in one vectorised pass (counted in /metrics unless warming up;
        logged with the predictions).
        """
        started = time.perf_counter()
        inputs = [item[0] for item in items]
        lengths = [len(x) for x in inputs]
        batch = self.loaded.assemble(inputs)  # the one model-ready input of the batch
        need_proba = self.has_proba and any(item[1] or item[2] is not None for item in items)
        assembled = time.perf_counter()
        predictions, probas = self.loaded.outputs(batch, proba=need_proba)
        inferred = time.perf_counter()
        bad = non_finite_rows(predictions)
        bad_proba = non_finite_rows(probas) if probas is not None else None
        check = bool(bad.any() or (bad_proba is not None and bad_proba.any()))
        results: list[Prediction | NonFinitePrediction] = []
        failed: set[int] = set()
        start = 0
        for i, (item, n) in enumerate(zip(items, lengths, strict=True)):
            want = item[1]
            end = start + n
            error = _non_finite(bad, bad_proba, start, end) if check else None
            if error is not None:
                failed.add(i)
                results.append(error)
            else:
                part = probas[start:end] if (probas is not None and want) else None
                results.append((predictions[start:end], part))
            start = end
        scores = self._score(batch, count=live) if self.ood is not None else None
        if self.log_writer is not None:
            self._log(items, lengths, batch, predictions, probas, failed, scores)
        queued = [item[6] for item in items if item[6]]  # the warm-up call is not counted
        if queued:
            rows = sum(n for i, n in enumerate(lengths) if i not in failed and items[i][6])
            self.stats.executed(rows, queued, started, assembled, inferred, time.perf_counter())
        return results

    def _score(self, batch: Any, *, count: bool) -> OutlierScores | None:
        """The batch's out-of-distribution scores; a scorer that fails is switched off, since
        a monitoring aid must never fail predictions."""
        assert self.ood is not None
        try:
            scores = self.ood.score(batch)
        except Exception:
            log.exception(
                "%s:%d: out-of-distribution scoring failed; it is off", self.name, self.version
            )
            self.ood = None
            self.ood_reject = False
            return None
        if count:
            self._ood_scored.inc(len(scores))
            above = int(np.count_nonzero(scores.score > self.ood_threshold))
            if above:
                self._ood_above.inc(above)
        return scores

    def _log(
        self,
        items: list[Item],
        lengths: list[int],
        batch: Any,
        predictions: np.ndarray,
        probas: np.ndarray | None,
        failed: set[int],
        scores: OutlierScores | None = None,
    ) -> None:
        """Hand the batch to the log writer: references only, the writer converts later."""
        assert self.log_writer is not None
        # a request answered with an error has no predictions for feedback to refer to
        logged = [i for i, item in enumerate(items) if item[2] is not None and i not in failed]
        if not logged:
            return
        now = time.time()
        perf = time.perf_counter()
        rows = lengths
        if len(logged) < len(items):  # sampling: keep only the rows of logged requests
            offsets = np.cumsum([0, *lengths])
            kept = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in logged])
            batch = (
                batch.iloc[kept].reset_index(drop=True)
                if isinstance(batch, pd.DataFrame)
                else batch[kept]
            )
            predictions = predictions[kept]
            probas = probas[kept] if probas is not None else None
            scores = scores.take(kept) if scores is not None else None
            items = [items[i] for i in logged]
            rows = [lengths[i] for i in logged]
        # Per request, not per row: the writer repeats latency, deployment and key for the
        # rows of a request when it converts, off this thread.
        one_row_each = rows.count(1) == len(rows)
        ids = (
            [item[2][0] for item in items]  # type: ignore[index]
            if one_row_each
            else [pid for item in items for pid in item[2] or ()]
        )
        latency = [(perf - item[3]) * 1000.0 for item in items]
        deployments = [item[4] for item in items]
        keys = [item[5] for item in items]
        # one value for the batch in the common case (no deployment, no sticky key)
        routed = deployments.count(None) < len(items) or keys.count(None) < len(items)
        self.log_writer.append(
            LoggedBatch(
                model=self.name,
                version=self.version,
                ids=ids,
                inputs=batch,
                feature_names=self.feature_names,
                predictions=predictions,
                proba=probas,
                latency_ms=latency,
                ts=now,
                deployment=deployments if routed else None,
                keys=keys if routed else None,
                ood_score=scores.score if scores is not None else None,
                ood_features=scores.feature_text() if scores is not None else None,
                request_rows=None if one_row_each else rows,
            )
        )

    def warm(self) -> None:
        """One prediction on a synthetic row, so the first real request pays no lazy setup."""
        if self.signature is None:
            return
        row = {f.name: _example_value(f) for f in self.signature.inputs}
        # not through prepare: the synthetic row is no client's, no policy applies to it
        self._run_batch(
            [(self.loaded.columns([row]), self.has_proba, None, 0.0, None, None, 0.0)],
            live=False,
        )

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "flavor": self.loaded.version.flavor}


def _scorer(loaded: LoadedModel, columns: list[str]) -> OutlierScorer | None:
    """The version's out-of-distribution scorer, None without a profile or a usable one."""
    try:
        return scorer_for(loaded.version.profile, columns)
    except DataError as exc:  # a damaged profile costs the score, not the version
        log.warning("%s: no out-of-distribution score: %s", loaded.ref, exc.message)
        return None


def _non_finite(
    bad: np.ndarray, bad_proba: np.ndarray | None, start: int, end: int
) -> NonFinitePrediction | None:
    """The error for the request holding rows ``start:end`` of the batch, if it needs one.

    Probabilities count as much as the labels: on the argmax path the label comes from
    them, and a NaN probability means the model's arithmetic broke down on that row.
    """
    if bad[start:end].any():
        return NonFinitePrediction(np.flatnonzero(bad[start:end]).tolist())
    if bad_proba is not None and bad_proba[start:end].any():
        rows = np.flatnonzero(bad_proba[start:end]).tolist()
        return NonFinitePrediction(rows, output="class probabilities")
    return None


def _example_value(spec: Any) -> Any:
    if spec.kind == "category" and spec.categories:
        return spec.categories[0]
    if spec.kind in ("float", "integer"):
        return spec.min if spec.min is not None else 0
    if spec.kind == "boolean":
        return False
    if spec.kind == "datetime":
        return "2020-01-01"
    return None if spec.nullable else ""


@dataclass(frozen=True, slots=True)
class _Move:
    """A pointer that now resolves to another version (``served`` set if newly loaded)."""

    ptr: Reference
    version: int
    served: ServedVersion | None


class ModelPool:
    """Everything the server serves, and the follower that keeps pointers current."""

    def __init__(
        self,
        registry: Registry,
        config: ServeConfig,
        metrics: Metrics,
        log_writer: PredictionLogWriter | None = None,
    ) -> None:
        self.registry = registry
        self.config = config
        self.metrics = metrics
        self.log_writer = log_writer
        self.router: Router[ServedVersion] = Router()
        self.ready = False
        self._serve_all = not config.refs and not config.deployments
        self._failed: set[tuple[str, int]] = set()  # versions that would not load or warm
        #: pointers unloaded through the repository: serving everything skips them after
        self._unloaded: set[Reference] = set()
        #: held by each poll and each repository load or unload: one table change at a time
        self._changing = asyncio.Lock()

    # -- startup ----------------------------------------------------------------------

    def load(self, extra: Iterable[str] = ()) -> None:
        """Load and warm every requested reference (blocking; run before serving).

        ``extra`` are references the server needs besides its own (a deployment's arms).
        """
        refs = [parse(r) for r in self.config.refs]
        if not refs and not self.config.deployments:
            refs = self._all_pointers()
        self.add_refs([*refs, *(parse(r) for r in extra)])
        self.ready = True

    def add_refs(self, refs: Iterable[Reference]) -> None:
        """Serve ``refs`` too (blocking: loads what is new, in the calling thread).

        Exact references stay served; pointers are followed like the server's own.
        The table is changed in place, so call it before serving or on the event loop's
        behalf through :meth:`poll_once`'s thread only for versions not yet routed.
        """
        for ref in refs:
            exact = self.registry.resolve(ref)
            assert exact.version is not None
            key = (ref.name, exact.version)
            if key not in self.router.versions:
                self.router.add(*key, self._load(exact), pinned=ref.version is not None)
            elif ref.version is not None:
                self.router.pinned.add(key)
            if ref.version is None:
                self.router.point(pointer(ref.name, ref.alias), exact.version)

    def _all_pointers(self) -> list[Reference]:
        refs: list[Reference] = []
        for info in self.registry.list_models():
            if info.latest_version is None:
                continue
            refs.append(pointer(info.name))
            refs.extend(pointer(info.name, alias) for alias in info.aliases)
        return [ref for ref in refs if ref not in self._unloaded]

    def _load(self, ref: Reference) -> ServedVersion:
        loaded = load_model(self.registry, ref)
        served = ServedVersion(loaded, self.config, self.metrics, self.log_writer)
        served.warm()
        log.info("loaded %s in %.3fs", ref, loaded.load_seconds)
        return served

    def route(self, ref: Reference) -> ServedVersion:
        return self.router.route(ref)

    # -- following aliases ------------------------------------------------------------

    async def follow(self) -> None:
        """Poll the registry forever; apply moves on the loop so swaps are atomic."""
        while True:
            await asyncio.sleep(self.config.poll_interval)
            try:
                await self.poll_once()
            except Exception:  # a registry hiccup must not stop the follower
                log.exception("checking the registry for alias moves failed")

    async def poll_once(self) -> None:
        async with self._changing:
            await self._poll()

    async def _poll(self) -> None:
        pointers = dict(self.router.pointers)
        loaded = set(self.router.versions)
        moves, dropped = await asyncio.to_thread(self._find_moves, pointers, loaded)
        for move in moves:
            if move.served is not None:
                self.router.add(move.ptr.name, move.version, move.served)
            previous = self.router.pointers.get(move.ptr)
            self.router.point(move.ptr, move.version)
            self.metrics.swaps.labels(move.ptr.name, str(move.ptr)).inc()
            log.info("%s moved %s -> %s:%d", move.ptr, previous, move.ptr.name, move.version)
        for ptr in dropped:
            self.router.drop(ptr)
            log.warning("%s no longer exists in the registry; stopped serving it", ptr)
        await self._retire(self.router.sweep())

    def _find_moves(
        self, pointers: dict[Reference, int], loaded: set[tuple[str, int]]
    ) -> tuple[list[_Move], list[Reference]]:
        """In a thread: what each pointer resolves to now, loading new versions."""
        watch: Iterable[Reference] = pointers
        if self._serve_all:
            watch = {*pointers, *self._all_pointers()}
        moves: list[_Move] = []
        dropped: list[Reference] = []
        fresh: dict[tuple[str, int], ServedVersion] = {}
        for ptr in watch:
            try:
                version = self.registry.resolve(ptr).version
            except NotFoundError:
                if ptr in pointers:
                    dropped.append(ptr)
                continue
            assert version is not None
            key = (ptr.name, version)
            if pointers.get(ptr) == version or key in self._failed:
                continue
            served = None
            if key not in loaded:
                served = fresh.get(key)
                if served is None:
                    try:
                        served = fresh[key] = self._load(Reference(ptr.name, version=version))
                    except Exception:  # a broken version must not take the server down
                        log.exception("cannot serve %s:%d; %s stays where it was", *key, ptr)
                        self._failed.add(key)
                        continue
            moves.append(_Move(ptr, version, served))
        return moves, dropped

    # -- the repository: loading and unloading while serving ------------------------------

    async def load_ref(self, ref: Reference) -> ServedVersion:
        """Serve ``ref`` from now on (a pointer is followed); a no-op when already served.

        The version loads and warms in a thread; the table changes on the event loop. A
        reference the registry does not know is its 404; a version that will not load is
        refused with its error, and nothing changes.
        """
        async with self._changing:
            exact, fresh = await asyncio.to_thread(self._fetch, ref)
            assert exact.version is not None
            key = (ref.name, exact.version)
            if fresh is not None:
                if key in self.router.versions:  # a deployment's poll loaded it meanwhile
                    fresh.loaded.close()
                else:
                    self.router.add(*key, fresh)
            if ref.version is not None:
                self.router.pinned.add(key)
            else:
                ptr = pointer(ref.name, ref.alias)
                self.router.point(ptr, exact.version)
                self._unloaded.discard(ptr)
            log.info("loaded %s through the repository (%s:%d)", ref, *key)
            served = self.router.versions[key]
            await self._retire(self.router.sweep())  # what the pointer aimed at before
            return served

    def _fetch(self, ref: Reference) -> tuple[Reference, ServedVersion | None]:
        """In a thread: what ``ref`` resolves to, loaded and warmed unless already served."""
        exact = self.registry.resolve(ref)
        assert exact.version is not None
        if (ref.name, exact.version) in self.router.versions:
            return exact, None
        return exact, self._load(exact)

    async def unload_ref(self, ref: Reference) -> list[ServedVersion]:
        """Stop serving ``ref``; the versions nothing else serves are retired (returned).

        Requests already routed to them finish first. :class:`NotFoundError` (404) names
        what is served when ``ref`` is not.
        """
        async with self._changing:
            released = self.router.release(ref)
            if released is None:
                self.router.route(ref)  # raises the 404 naming what is served
                raise ModelNotFound(f"{ref} is not served", hint="GET /v2/repository/index")
            # serving everything re-adds the registry's pointers on each poll: not these
            self._unloaded.update(released)
            if ref.version is None and ref.alias is None and self._serve_all:
                every = await asyncio.to_thread(self._all_pointers)
                self._unloaded.update(p for p in every if p.name == ref.name)
            retired = self.router.sweep()
            log.info("stopped serving %s through the repository", ref)
            await self._retire(retired)
            return retired

    async def _retire(self, retired: list[ServedVersion]) -> None:
        for served in retired:
            await served.batcher.aclose()  # requests already routed to it finish first
            served.loaded.close()
            log.info("retired %s:%d", served.name, served.version)

    async def aclose(self) -> None:
        await self._retire(list(self.router.versions.values()))
