"""GPU-shaped response surfaces from a small analytic model of LLM serving, for the search benchmark.

    python -m benchmarks.surfaces.synthetic [--out benchmarks/surfaces/suite] [--seed 0] [--only NAME ...]

The recorded surfaces (``data/``) are small, measured on a CPU, and have no failed configuration. Real GPU spaces
have 3-5 knobs, hundreds of configurations, a fifth to a third of them unable to run, and plateaus of ties. This
module writes surfaces of that shape from the model below, in the CSV format of ``benchmarks.surfaces.surface``
(``NAME.csv``) with the spec a replay needs (``NAME.yaml``: search space, one traffic scenario at one
concurrency, objective, hard SLOs). The numbers are not a measurement of any GPU: they follow the shape
roofline models give (the kind NVIDIA's aiconfigurator derives from kernel databases), so a search meets the
same failures, plateaus and interactions it would meet on a GPU. Measurement noise is not written into the
files; ``sample_efficiency --noise`` adds it.

The model (per configuration; ``tp`` tensor-parallel size, ``dp`` data-parallel size, ``B`` max-num-seqs, ``T``
max-num-batched-tokens, ``kv`` the KV-cache dtype; a GPU has memory ``M`` GB, bandwidth ``BW`` TB/s, dense
``F`` TFLOP/s at 16 bits; the node has ``G`` GPUs; the load is ``C`` concurrent requests of ``I`` input and ``O``
output tokens):

1. *Parallelism* (failed, ``invalid parallelism``): ``tp x dp <= G``; ``tp`` divides the attention heads;
   expert parallelism only for a MoE model, over more than one GPU, and its expert count divisible by
   ``tp x dp``. (Only the MoE surfaces vary ``dp``.)
2. *Memory* per GPU, with ``util`` = 0.9 of ``M`` usable: weights ``= P_dense x 2 B / tp`` (+ expert weights
   ``/ tp``, or ``/ (tp x dp)`` with expert parallelism), a fixed runtime overhead (CUDA graphs, buffers) and
   activations ``= T x hidden x 2 B x 12 / tp``; the overhead is 3 GB. What is left holds the KV cache; one token takes
   ``2 x layers x max(1, kv_heads / tp) x head_dim x bytes(kv)`` (2 bytes for ``auto``, 1 for ``fp8``). If the
   weights do not fit, or the KV cache cannot hold one sequence of ``max-model-len`` tokens (vLLM's start-up
   check), the configuration fails with ``out of memory``.
3. *Batch*: each data-parallel replica runs ``b = min(B, C / dp, KV tokens / (I + O / 2))`` requests at once
   (a request holds its prompt and, on average, half its output). Above ``C / dp`` a larger ``B`` changes
   nothing: a plateau. A ``B`` larger than the KV cache holds leads to preemptions: 1% step time per 10% of
   excess.
4. *Step time* of a replica decoding ``b`` requests: ``max(memory, compute)``, the roofline. Memory reads the
   weights once (a MoE model only the experts its ``b x top_k`` tokens touch) and each request's KV cache;
   compute is ``2 x active params x b`` FLOPs; both split over ``tp``. Tensor parallelism adds two all-reduces
   per layer (``8 us + activations / 300 GB/s``); an ``fp8`` KV cache adds 4% to attention reads (dequantising).
   Each step also admits prefill: on average ``b x I / O`` prompt tokens (what keeps ``b`` requests going), at
   ``2 x active params`` FLOPs a token, chunked to at most ``T - b`` tokens a step; when that is not enough the
   batch cannot be sustained and ``b`` shrinks to what ``T`` feeds. Efficiency: 60% of peak FLOP/s and 80% of
   bandwidth.
5. *Throughput* ``= dp x b / step`` output tokens/s (a step gives each running request a token; the prefill it
   carries is in the step time); requests/s ``= throughput / O``.
6. *Latency*: TPOT mean is the step time; p90 is a step that also carries a full prefill chunk of
   ``min(T, I)`` tokens. TTFT is the prefill of ``I`` tokens in chunks of ``T`` plus queueing (Little's law: the
   ``C`` clients wait for a free batch slot); p90 = 1.6 x mean. Latencies grow with load, so SLOs bind. Every
   surface has one traffic scenario at one concurrency level.

Each surface is deterministic: the same seed gives the same files. The seed shifts each GPU's FLOP/s and
bandwidth by about 3%, and each configuration's step time by about 1% (kernels' luck, which no model predicts), so
a plateau's configurations are near-equal rather than tied, and the optimum is not at a round number.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tuning.evaluation.metrics import RoundMetrics
from tuning.evaluation.outcome import TrialState
from tuning.evaluation.surface import Measurement, write_surface

OUT_OF_MEMORY = "out of memory"
INVALID_PARALLELISM = "invalid parallelism"
GPU_MEMORY_UTILIZATION = 0.9
RUNTIME_OVERHEAD_GB = 3.0
FLOPS_EFFICIENCY, BANDWIDTH_EFFICIENCY = 0.6, 0.8
ALLREDUCE_LATENCY, INTERCONNECT = 8e-6, 300e9  # seconds per all-reduce; bytes/s between GPUs
FP8_ATTENTION_COST = 1.04
KV_BYTES = {"auto": 2, "fp8": 1}

TP, DP, EP = "tensor-parallel-size", "data-parallel-size", "enable-expert-parallel"
SEQS, TOKENS, KV_DTYPE = "max-num-seqs", "max-num-batched-tokens", "kv-cache-dtype"


@dataclass(frozen=True)
class GPU:
    name: str
    memory_gb: float
    bandwidth_tbs: float
    tflops: float  # dense 16-bit
    count: int  # GPUs of the node a configuration may use


@dataclass(frozen=True)
class Model:
    name: str
    params_b: float  # all weights, billions
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    hidden: int
    experts: int = 0  # 0: dense
    top_k: int = 0
    expert_params_b: float = 0.0  # of params_b, the weights inside the experts
    max_model_len: int = 8192

    @property
    def moe(self) -> bool:
        return self.experts > 0

    @property
    def active_params_b(self) -> float:
        if not self.moe:
            return self.params_b
        return self.params_b - self.expert_params_b + self.expert_params_b * self.top_k / self.experts


@dataclass(frozen=True)
class Load:
    input_tokens: int
    output_tokens: int
    concurrency: int

    @property
    def scenario(self) -> str:
        return f"D({self.input_tokens},{self.output_tokens})"


@dataclass(frozen=True)
class SurfaceDesign:
    """One surface of the suite: model, GPU, load, the grid, what is optimised and the SLOs that bind."""

    name: str
    description: str
    model: Model
    gpu: GPU
    load: Load
    space: dict[str, list[Any]]
    objective: str
    slos: list[dict[str, Any]] = field(default_factory=list)


H100 = GPU("H100-80GB", 80, 3.35, 989, 8)
A100_40 = GPU("A100-40GB", 40, 1.55, 312, 8)
H100_X4 = GPU("H100-80GB", 80, 3.35, 989, 4)
A100_40_X4 = GPU("A100-40GB", 40, 1.55, 312, 4)
A100_80 = GPU("A100-80GB", 80, 2.0, 312, 8)
L40S = GPU("L40S-48GB", 48, 0.86, 362, 4)

DENSE_8B = Model("dense-8b", 8.0, 32, 32, 8, 128, 4096, max_model_len=8192)
DENSE_8B_LONG = Model("dense-8b-128k", 8.0, 32, 32, 8, 128, 4096, max_model_len=131072)
DENSE_70B = Model("dense-70b", 70.6, 80, 64, 8, 128, 8192, max_model_len=8192)
DENSE_32B = Model("dense-32b", 32.8, 64, 40, 8, 128, 5120, max_model_len=32768)
MOE_47B = Model("moe-47b-a13b", 46.7, 32, 32, 8, 128, 4096, 8, 2, 45.1, max_model_len=32768)

TP_VALUES = [1, 2, 4, 8]
SEQS_VALUES = [8, 16, 32, 64, 128, 256, 512]
TOKENS_VALUES = [2048, 4096, 8192, 16384]
CHAT_SLOS = [
    {"metric": "ttft", "statistic": "p90", "max": 2.0},
    {"metric": "tpot", "statistic": "p90", "max": 0.05},
]

SUITE: tuple[SurfaceDesign, ...] = (
    SurfaceDesign(
        "dense-8b-h100x4-chat",
        "An 8B dense model on four 80 GB GPUs, chat load: per-GPU throughput, where tp 8 does not exist.",
        DENSE_8B,
        H100_X4,
        Load(1024, 256, 128),
        {TP: TP_VALUES, SEQS: SEQS_VALUES, KV_DTYPE: ["auto", "fp8"], TOKENS: TOKENS_VALUES},
        "output_throughput_per_gpu",
        [{"metric": "ttft", "statistic": "p90", "max": 1.0}, {"metric": "tpot", "statistic": "p90", "max": 0.03}],
    ),
    SurfaceDesign(
        "dense-8b-a100-40g-longctx",
        "An 8B dense model serving 128k-token contexts on 40 GB GPUs: memory decides, fp8 KV cache helps.",
        DENSE_8B_LONG,
        A100_40_X4,
        Load(16000, 512, 32),
        {TP: TP_VALUES, SEQS: [8, 16, 32, 64, 128, 256], KV_DTYPE: ["auto", "fp8"], TOKENS: TOKENS_VALUES},
        "output_throughput_per_gpu",
        [{"metric": "ttft", "statistic": "p90", "max": 20.0}, {"metric": "tpot", "statistic": "p90", "max": 0.25}],
    ),
    SurfaceDesign(
        "dense-70b-h100-chat",
        "A 70B dense model on eight 80 GB GPUs, chat load under tight interactive SLOs.",
        DENSE_70B,
        H100,
        Load(1024, 256, 64),
        {TP: [2, 4, 8], SEQS: SEQS_VALUES, KV_DTYPE: ["auto", "fp8"], TOKENS: [2048, 4096, 8192]},
        "output_throughput_per_gpu",
        CHAT_SLOS,
    ),
    SurfaceDesign(
        "dense-32b-l40s-chat",
        "A 32B dense model on four 48 GB GPUs (tp must divide 40 heads): total throughput under chat SLOs.",
        DENSE_32B,
        L40S,
        Load(512, 256, 48),
        {TP: [2, 4, 8], SEQS: SEQS_VALUES, KV_DTYPE: ["auto", "fp8"], TOKENS: TOKENS_VALUES},
        "output_throughput",
        [{"metric": "ttft", "statistic": "p90", "max": 3.0}, {"metric": "tpot", "statistic": "p90", "max": 0.08}],
    ),
    SurfaceDesign(
        "moe-47b-a100-80g-chat",
        "A 47B MoE model (13B active) on eight 80 GB GPUs: expert parallelism decides what fits.",
        MOE_47B,
        A100_80,
        Load(1024, 256, 128),
        {TP: TP_VALUES, DP: [1, 2], EP: [False, True], SEQS: SEQS_VALUES},
        "output_throughput_per_gpu",
        [{"metric": "ttft", "statistic": "p90", "max": 3.0}, {"metric": "tpot", "statistic": "p90", "max": 0.06}],
    ),
    SurfaceDesign(
        "moe-47b-h100-throughput",
        "A 47B MoE model on eight 80 GB GPUs, a batch load: total throughput, five knobs.",
        MOE_47B,
        H100,
        Load(2048, 512, 256),
        {TP: [1, 2, 4, 8], DP: [1, 2], EP: [False, True], SEQS: [64, 128, 256, 512], KV_DTYPE: ["auto", "fp8"]},
        "output_throughput",
        [{"metric": "ttft", "statistic": "p90", "max": 10.0}, {"metric": "tpot", "statistic": "p90", "max": 0.04}],
    ),
    SurfaceDesign(
        "dense-70b-a100-80g-longctx",
        "A 70B dense model with long prompts (32k context) on eight 80 GB GPUs: total throughput.",
        Model("dense-70b-32k", 70.6, 80, 64, 8, 128, 8192, max_model_len=32768),
        A100_80,
        Load(8000, 512, 16),
        {TP: [2, 4, 8], SEQS: [4, 8, 16, 32, 64], KV_DTYPE: ["auto", "fp8"], TOKENS: TOKENS_VALUES},
        "output_throughput",
        [{"metric": "ttft", "statistic": "p90", "max": 15.0}, {"metric": "tpot", "statistic": "p90", "max": 0.5}],
    ),
)


@dataclass
class Outcome:
    """What the model says of one configuration: an error, or its round."""

    gpus: int
    error: str = ""
    round: RoundMetrics | None = None


def configurations(space: dict[str, list[Any]]) -> Iterator[dict[str, Any]]:
    names = list(space)
    for values in itertools.product(*(space[n] for n in names)):
        yield dict(zip(names, values, strict=True))


def _luck(seed: int, *parts: object) -> float:
    """A factor near 1, fixed by the seed and ``parts``: how much better or worse than the model a kernel runs."""
    draws = random.Random(json.dumps([seed, *map(str, parts)]))
    return math.exp(0.03 * draws.gauss(0.0, 1.0))


def evaluate(design: SurfaceDesign, params: dict[str, Any], seed: int) -> Outcome:
    model, gpu, load = design.model, design.gpu, design.load
    tp, dp = int(params.get(TP, 1)), int(params.get(DP, 1))
    ep = bool(params.get(EP, False))
    seqs = int(params[SEQS])
    tokens = int(params.get(TOKENS, max(2048, model.max_model_len if model.max_model_len <= 16384 else 8192)))
    kv_bytes = KV_BYTES[str(params.get(KV_DTYPE, "auto"))]
    gpus = tp * dp

    if gpus > gpu.count:
        return Outcome(gpus, f"{INVALID_PARALLELISM}: tp x dp = {gpus} is more than the node's {gpu.count} GPUs")
    if model.heads % tp:
        return Outcome(gpus, f"{INVALID_PARALLELISM}: {model.heads} attention heads are not divisible by tp {tp}")
    if ep and not model.moe:
        return Outcome(gpus, f"{INVALID_PARALLELISM}: expert parallelism needs a MoE model")
    if ep and (gpus == 1 or model.experts % gpus):
        return Outcome(gpus, f"{INVALID_PARALLELISM}: {model.experts} experts cannot be split over {gpus} GPU(s)")

    dense_b = model.params_b - model.expert_params_b
    expert_shards = gpus if ep else tp
    weights = (dense_b / tp + model.expert_params_b / expert_shards) * 1e9 * 2
    activations = tokens * model.hidden * 2 * 12 / tp
    usable = gpu.memory_gb * 1e9 * GPU_MEMORY_UTILIZATION
    kv_space = usable - weights - RUNTIME_OVERHEAD_GB * 1e9 - activations
    kv_per_token = 2 * model.layers * max(1.0, model.kv_heads / tp) * model.head_dim * kv_bytes
    kv_tokens = kv_space / kv_per_token
    if weights > usable:
        return Outcome(gpus, f"{OUT_OF_MEMORY}: {weights / 1e9:.1f} GB of weights per GPU")
    if kv_tokens < model.max_model_len:
        return Outcome(
            gpus,
            f"{OUT_OF_MEMORY}: the KV cache holds {max(0, int(kv_tokens))} tokens, fewer than max-model-len "
            f"{model.max_model_len}",
        )

    sequence = load.input_tokens + load.output_tokens
    per_replica = load.concurrency / dp
    wanted = min(seqs, per_replica)
    fits = kv_tokens / (load.input_tokens + load.output_tokens / 2)
    batch = max(1.0, min(wanted, fits))
    preempting = 1 + 0.1 * max(0.0, wanted / fits - 1) if fits < wanted else 1.0

    flops = gpu.tflops * 1e12 * FLOPS_EFFICIENCY * _luck(seed, gpu.name, "flops")
    bandwidth = gpu.bandwidth_tbs * 1e12 * BANDWIDTH_EFFICIENCY * _luck(seed, gpu.name, "bandwidth")
    active = model.active_params_b * 1e9

    def decode_step(b: float) -> float:
        if model.moe:
            touched = 1 - (1 - model.top_k / model.experts) ** b
            read = (dense_b / tp + model.expert_params_b * touched / expert_shards) * 1e9 * 2
        else:
            read = weights
        kv_read = b * sequence / 2 * kv_per_token * (FP8_ATTENTION_COST if kv_bytes == 1 else 1.0)
        memory = (read + kv_read) / bandwidth
        compute = 2 * active * b / tp / flops
        comm = 0.0 if tp == 1 else 2 * model.layers * (ALLREDUCE_LATENCY + b * model.hidden * 2 / INTERCONNECT)
        return max(memory, compute) + comm + 0.004  # 4 ms of scheduling and sampling per step

    prefill_token = 2 * active / tp / flops * 1.15  # prefill runs below peak: attention over the prompt
    # Chunked prefill: each step carries at most T - b prompt tokens; the batch shrinks to what T can feed.
    feed = max(1.0, tokens - batch)
    batch = min(batch, feed * load.output_tokens / load.input_tokens)
    batch = max(1.0, batch)
    prefill_per_step = batch * load.input_tokens / load.output_tokens
    step = (decode_step(batch) + prefill_per_step * prefill_token) * preempting
    # 1% per configuration: a plateau's configurations stay near-equal, not exactly tied.
    step *= _luck(seed, json.dumps(params, sort_keys=True)) ** (1 / 3)
    output = dp * batch / step
    requests = output / load.output_tokens

    chunk = min(tokens, load.input_tokens)
    tpot_mean = step
    tpot_p90 = step + max(0.0, chunk - prefill_per_step) * prefill_token
    prefill_time = math.ceil(load.input_tokens / feed) * step
    e2e_mean = load.concurrency / requests
    queueing = max(0.0, e2e_mean - prefill_time - load.output_tokens * tpot_mean)
    ttft_mean = prefill_time + queueing
    round_ = RoundMetrics(
        scenario=load.scenario,
        concurrency=load.concurrency,
        ttft_mean=ttft_mean,
        ttft_p50=ttft_mean * 0.9,
        ttft_p90=ttft_mean * 1.6,
        ttft_p99=ttft_mean * 2.2,
        tpot_mean=tpot_mean,
        tpot_p50=tpot_mean,
        tpot_p90=tpot_p90,
        tpot_p99=tpot_p90 * 1.2,
        e2e_latency_mean=e2e_mean,
        e2e_latency_p50=e2e_mean * 0.95,
        e2e_latency_p90=e2e_mean * 1.3,
        e2e_latency_p99=e2e_mean * 1.6,
        input_throughput=requests * load.input_tokens,
        output_throughput=output,
        total_throughput=requests * sequence,
        requests_per_second=requests,
        error_rate=0.0,
        num_completed=max(1, round(requests * 300)),
        num_failed=0,
        duration=300.0,
        source_file=f"synthetic-{design.name}.json",
    )
    return Outcome(gpus, round=round_)


def measurements(design: SurfaceDesign, seed: int) -> list[Measurement]:
    result = []
    for number, params in enumerate(configurations(design.space)):
        outcome = evaluate(design, params, seed)
        if outcome.round is None:
            result.append(Measurement(number, params, TrialState.failed, outcome.error, gpus=outcome.gpus))
        else:
            rounds = {(outcome.round.scenario, outcome.round.concurrency): outcome.round}
            result.append(Measurement(number, params, TrialState.succeeded, rounds=rounds, gpus=outcome.gpus))
    return result


def spec_document(design: SurfaceDesign) -> dict[str, Any]:
    """The spec a replay of the surface uses: its space, load, objective and SLOs; the replay deployer runs it."""
    return {
        "name": design.name,
        "description": design.description,
        "model": {"path": f"/models/{design.model.name}", "served_name": design.model.name},
        "engine": {"name": "vllm", "args": {"max-model-len": design.model.max_model_len}},
        "deployer": {"kind": "replay", "surface": f"{design.name}.csv"},
        "search_space": design.space,
        "benchmark": {
            "traffic_scenarios": [design.load.scenario],
            "concurrency": [design.load.concurrency],
            "max_requests_per_run": max(1000, 4 * design.load.concurrency),
        },
        "objective": {"metric": design.objective},
        "slos": [{"metric": "error_rate", "max": 0.0}, *[{**s, "hard": True} for s in design.slos]],
        "measure_defaults": False,  # the model draws searched configurations only
    }


def write(design: SurfaceDesign, out: Path, seed: int) -> Path:
    """Write ``NAME.csv`` and ``NAME.yaml`` of ``design`` into ``out``; returns the CSV's path."""
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / f"{design.name}.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        write_surface(handle, list(design.space), measurements(design, seed))
    header = (
        f"# Generated by `python -m benchmarks.surfaces.synthetic --seed {seed}` (benchmarks/surfaces/synthetic.py):\n"
        f"# a modelled surface ({design.model.name} on {design.gpu.count} x {design.gpu.name}), not a measurement.\n"
    )
    text = yaml.safe_dump(spec_document(design), sort_keys=False, default_flow_style=None, width=120)
    (out / f"{design.name}.yaml").write_text(header + text, encoding="utf-8")
    return csv_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.surfaces.synthetic", description=__doc__.split("\n")[0])
    default_out = Path(__file__).parent / "suite"
    parser.add_argument("--out", type=Path, default=default_out, help=f"folder to write (default: {default_out})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kernels' luck (default 0)")
    names = [d.name for d in SUITE]
    parser.add_argument("--only", nargs="+", choices=names, help="write only these surfaces")
    args = parser.parse_args(argv)
    for design in SUITE:
        if args.only and design.name not in args.only:
            continue
        path = write(design, args.out, args.seed)
        rows = measurements(design, args.seed)
        failed = sum(m.state is TrialState.failed for m in rows)
        print(f"{path}: {len(rows)} configurations over {len(design.space)} knobs, {failed} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
