"""Attention layers: Attention, AdditiveAttention, MultiHeadAttention and GroupedQueryAttention
(their call arguments and masks in _attention_masks.py; EinsumDense and Dot in contraction.py).

Masks follow Keras exactly: the Keras masks of query/value/key (Embedding(mask_zero=True),
Masking), an ``attention_mask`` input, ``use_causal_mask`` and a sliding window are combined
with a logical and; how masked scores are pushed down differs between Keras versions and code
paths, and MaskedSoftmax's attributes say which one a layer follows (see _softmax_mode).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kerasport.keras.config import TensorRef
from kerasport.keras.layers._attention_masks import (
    as_mask,
    attention_masks,
    clear_input_masks,
    flag,
    mask_of,
    qkv,
)
from kerasport.keras.layers.contraction import einsum_dense, letters
from kerasport.keras.registry import LayerContext, register_converter

# Keras 3's TensorFlow dot_product_attention fills masked logits with this (fully masked rows
# then get a uniform distribution, not zeros)
_DPA_FILL = 3.38953e38 * -0.7


def _softmax(ctx: LayerContext, scores: str, mask: str | None, mode: dict[str, Any],
             axes: list[int], causal: bool = False, window: int = 0,
             expand_axis: int = 1) -> str:
    """Softmax of the scores, masked when a mask, causal or window is given."""
    if mask is None and not causal and not window:
        return ctx.op("Softmax", [scores], "probs", axis=axes if len(axes) > 1 else axes[0])
    return ctx.op("MaskedSoftmax", [scores, mask or ""], "probs", axes=axes, causal=causal,
                  window=int(window or 0), expand_axis=expand_axis, **mode)


def _softmax_mode(ctx: LayerContext, explicit_path: bool) -> dict[str, Any]:
    """How MultiHeadAttention/GroupedQueryAttention push masked scores down.

    Keras 3 with TensorFlow: ops.dot_product_attention (rank-3 inputs, no dropout, no returned
    scores) fills masked logits with -0.7 * 3.38953e38; otherwise its Softmax layer fills -1e9
    and zeroes the masked probabilities. Keras 2 adds -1e9 (or fills it with
    softmax_robust_masking)."""
    if ctx.keras_major >= 3:
        if explicit_path:
            return {"fill": -1e9, "additive": False, "zero_masked": True}
        return {"fill": _DPA_FILL, "additive": False, "zero_masked": False}
    robust = bool(ctx.config.get("softmax_robust_masking"))
    return {"fill": -1e9, "additive": not robust, "zero_masked": False}


# -- weights of layers with sublayers ---------------------------------------------------------
def _sub_weights(ctx: LayerContext) -> dict[str, dict[str, np.ndarray]]:
    """Weights of MHA/GQA by sublayer: {"query": {"kernel": ..., "bias": ...}, ...}.

    Paths are "query_dense/vars/0" (.keras of Keras 3), "_query_dense/vars/0" (.keras of
    Keras 2) or "<layer>/query/kernel" (.h5)."""
    out: dict[str, dict[str, np.ndarray]] = {}
    names = {"query": "query", "key": "key", "value": "value", "gate": "gate",
             "output": "output", "attention_output": "output"}
    for path, arr in ctx.weights:
        parts = (path or "").split(":")[0].split("/")
        ctx.require(len(parts) >= 2, None, f"unexpected weight path {path!r}")
        if parts[-2] == "vars":
            sub, kind = parts[-3], "kernel" if parts[-1] == "0" else "bias"
        else:
            sub, kind = parts[-2], parts[-1]
        sub = sub.strip("_").removesuffix("_dense")
        ctx.require(sub in names and kind in ("kernel", "bias"), None,
                    f"unexpected weight {path!r}")
        out.setdefault(names[sub], {})[kind] = np.asarray(arr, np.float32)
    return out


def _projection(ctx: LayerContext, x: str, w: dict[str, np.ndarray], name: str,
                scale: float = 1.0) -> str:
    """(N, T, D) @ kernel (D, *out) + bias -> (N, T, prod(out)), as one Dense."""
    kernel = w["kernel"]
    k2 = (kernel.reshape(kernel.shape[0], -1) * np.float32(scale)).astype(np.float32)
    args = [x, ctx.const(f"{name}/kernel", k2)]
    if "bias" in w:
        args.append(ctx.const(f"{name}/bias", (w["bias"].reshape(-1) * np.float32(scale))
                              .astype(np.float32)))
    return ctx.op("Dense", args, name)


def _heads(ctx: LayerContext, x: str, heads: int, dim: int, name: str) -> str:
    """(N, T, heads*dim) -> (N, heads, T, dim)."""
    x = ctx.op("Reshape", [x], f"{name}/split", shape=[-1, heads, dim])
    return ctx.op("Transpose", [x], f"{name}/heads", perm=[0, 2, 1, 3])


def _merge_heads(ctx: LayerContext, x: str, heads: int, dim: int) -> str:
    """(N, heads, T, dim) -> (N, T, heads*dim)."""
    x = ctx.op("Transpose", [x], "merge", perm=[0, 2, 1, 3])
    return ctx.op("Reshape", [x], "merged", shape=[-1, heads * dim])


def _output_dense(ctx: LayerContext, x: str, w: dict[str, np.ndarray]) -> str:
    """(N, T, heads*dim) -> (N, T, *output_shape) through the output projection."""
    kernel = w["kernel"]
    out_dims = list(kernel.shape[2:])
    args = [x, ctx.const("output/kernel", kernel.reshape(-1, math.prod(out_dims)))]
    if "bias" in w:
        args.append(ctx.const("output/bias", w["bias"].reshape(-1)))
    y = ctx.op("Dense", args, "output" if len(out_dims) > 1 else None)
    if len(out_dims) > 1:
        y = ctx.op("Reshape", [y], None, shape=[-1, *out_dims])
    return y


def _gate(ctx: LayerContext, query: str, w: dict[str, dict[str, np.ndarray]]) -> str | None:
    if "gate" not in w:
        return None
    return ctx.op("Sigmoid", [_projection(ctx, query, w["gate"], "gate")], "gate/sigmoid")


def _check_rank3(ctx: LayerContext, values: list[str], what: str) -> None:
    for v in values:
        shape = ctx.shape(v)
        ctx.require(shape is not None and len(shape) == 3 and shape[-1] is not None, None,
                    f"{what} needs (batch, time, features) inputs with known features, got "
                    f"{shape}")


# -- Attention, AdditiveAttention --------------------------------------------------------------
def _query_value_masks(ctx: LayerContext) -> tuple[str | None, str | None]:
    """Attention's query and value masks as 0/1 float32: ``mask=[query_mask, value_mask]``
    when given, else the Keras masks its inputs carry."""
    explicit = ctx.call.kwargs.get("mask")
    resolve = ctx.resolve
    assert resolve is not None
    if isinstance(explicit, (list, tuple)):  # mask=[query_mask, value_mask] given
        masks = [resolve(m) if isinstance(m, TensorRef) else None for m in explicit]
    else:  # the masks the inputs carry
        masks = [mask_of(ctx, resolve(r)) for r in ctx.call.tensors()]
    masks += [None, None]
    return as_mask(ctx, masks[0], "query_mask"), as_mask(ctx, masks[1], "value_mask")


def _scores(ctx: LayerContext, q: str, k: str) -> str:
    """Attention's scores (N, T, S): dot (scaled), concat or additive (tanh of the sum)."""
    cfg = ctx.config
    dim = ctx.shape(q)[-1]
    additive = ctx.class_name == "AdditiveAttention"
    mode = "additive" if additive else str(cfg.get("score_mode", "dot"))
    ctx.require(mode in ("dot", "concat", "additive"), "score_mode",
                f"score_mode={mode!r} is not supported", "use 'dot' or 'concat'")
    names = ["scale"] if cfg.get("use_scale", additive) else []
    if mode == "concat":
        names.append("concat_score_weight")
    shapes = [(dim,) if additive else () for _ in names]
    weights = dict(zip(names, ctx.weights_as(names, shapes)))
    scale = ctx.const("scale", weights["scale"]) if "scale" in weights else None
    if mode == "dot":
        scores = ctx.op("MatMul", [q, k], "scores", transpose_b=True)
        return ctx.op("Mul", [scores, scale], "scaled") if scale else scores
    qe = ctx.op("Reshape", [q], "query_expanded", shape=[-1, 1, dim])
    ke = ctx.op("Reshape", [k], "key_expanded", shape=[1, -1, dim])
    s = ctx.op("Add", [qe, ke], "sum")
    if scale and not additive:
        s = ctx.op("Mul", [s, scale], "scaled")
    s = ctx.op("Tanh", [s], "tanh")
    if additive and scale:
        scores = ctx.op("Einsum", [s, scale], "scores", equation="...d,d->...")
    else:
        scores = ctx.op("Einsum", [s], "scores", equation="...d->...")
    if mode == "concat":
        scores = ctx.op("Mul", [scores, ctx.const("concat_score_weight",
                                                    weights["concat_score_weight"])],
                        "weighted")
    return scores


@register_converter("Attention", "AdditiveAttention", mask="own")
def convert_attention(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Attention (dot or concat scores) and AdditiveAttention over [query, value(, key)].

    Honours the query/value masks, use_causal_mask and return_attention_scores."""
    cfg = ctx.config
    ctx.require(len(inputs) in (2, 3), None,
                f"{ctx.class_name} takes [query, value] or [query, value, key], got "
                f"{len(inputs)} tensors")
    _check_rank3(ctx, inputs, ctx.class_name)
    q, v = inputs[0], inputs[1]
    k = inputs[2] if len(inputs) > 2 else v
    q_mask, v_mask = _query_value_masks(ctx)
    causal = flag(ctx, "use_causal_mask") or bool(cfg.get("causal"))
    scores = _scores(ctx, q, k)
    v_mask3 = ctx.op("Reshape", [v_mask], "value_mask3", shape=[1, -1]) if v_mask else None
    probs = _softmax(ctx, scores, v_mask3, {"fill": -1e9, "additive": True,
                                             "zero_masked": False}, [-1], causal)
    out = ctx.op("MatMul", [probs, v], "attended" if q_mask else None)
    if q_mask:
        out = ctx.op("Mul", [out, ctx.op("Reshape", [q_mask], "query_mask3", shape=[-1, 1])])
    ctx.output_masks = [q_mask]
    if flag(ctx, "return_attention_scores"):
        return [out, probs]
    return [out]


def _attention_axes(ctx: LayerContext, rank: int) -> tuple[int, ...]:
    """MHA's attention axes as Keras resolves them for projected tensors of rank ``rank``
    (Keras 3 counts negative axes from rank - 1, Keras 2 from rank)."""
    axes = ctx.config.get("attention_axes")
    if axes is None:
        return tuple(range(1, rank - 2))
    axes = [axes] if isinstance(axes, int) else axes
    if ctx.keras_major >= 3:
        return tuple(int(a) if a >= 0 else (rank - 1) + int(a) for a in axes)
    return tuple(int(a) % rank for a in axes)


@register_converter("MultiHeadAttention", mask="own")
def convert_multi_head_attention(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """MultiHeadAttention with every Keras mask, output_shape, attention_axes and use_gate.

    Rank-3 inputs run as Dense projections and batched matmuls over (N, heads, T, d); other
    attention_axes use Keras' own einsum equations."""
    cfg = ctx.config
    query, value, key = qkv(ctx, inputs)
    heads, key_dim = int(cfg["num_heads"]), int(cfg["key_dim"])
    value_dim = int(cfg.get("value_dim") or key_dim)
    w = _sub_weights(ctx)
    for sub in ("query", "key", "value", "output"):
        ctx.require(sub in w, None, f"no stored weights for the {sub} projection")
    q_rank = ctx.rank(query)
    attn = _attention_axes(ctx, q_rank + 1)
    rank3 = q_rank == 3 and attn == (1,)
    causal = flag(ctx, "use_causal_mask")
    window = int(cfg.get("sliding_window") or 0)
    ret = flag(ctx, "return_attention_scores")
    mask, q_mask = attention_masks(ctx, query, value, key, causal, window, rank3, attn)
    explicit = float(cfg.get("dropout") or 0.0) > 0.0 or ret or not rank3
    mode = _softmax_mode(ctx, explicit)
    gate = _gate(ctx, query, w) if rank3 else None
    ctx.require("gate" not in w or rank3, "use_gate",
                "use_gate on inputs of rank > 3 is not supported")
    if rank3:
        scale = 1.0 / math.sqrt(float(key_dim))
        q = _heads(ctx, _projection(ctx, query, w["query"], "query", scale), heads, key_dim,
                   "query")
        k = _heads(ctx, _projection(ctx, key or value, w["key"], "key"), heads, key_dim, "key")
        v = _heads(ctx, _projection(ctx, value, w["value"], "value"), heads, value_dim,
                   "value")
        scores = ctx.op("MatMul", [q, k], "scores", transpose_b=True)
        probs = _softmax(ctx, scores, mask, mode, [-1], causal, window)
        attended = _merge_heads(ctx, ctx.op("MatMul", [probs, v], "attended"), heads,
                                value_dim)
    else:
        attended, probs = _general_attention(ctx, query, value, key, w, q_rank, attn, mask,
                                             mode, causal)
    if gate:
        attended = ctx.op("Mul", [attended, gate], "gated")
    if rank3:
        out = _output_dense(ctx, attended, w["output"])
    else:
        out = einsum_dense(ctx, attended, w["output"], q_rank + 1, 2, "output")
    ctx.output_masks = [q_mask]
    clear_input_masks(ctx, [query, value, key])
    return [out, probs] if ret else [out]


def _general_attention(ctx: LayerContext, query: str, value: str, key: str | None,
                       w: dict[str, dict[str, np.ndarray]], q_rank: int,
                       attn: tuple[int, ...], mask: str | None, mode: dict[str, Any],
                       causal: bool) -> tuple[str, str]:
    """MHA over any attention_axes with Keras' own einsum equations (projected rank r + 1)."""
    rank = q_rank + 1
    scale = 1.0 / math.sqrt(float(int(ctx.config["key_dim"])))
    q = einsum_dense(ctx, query, {k: v * np.float32(scale) for k, v in w["query"].items()},
                     q_rank, 1, "query")
    k = einsum_dense(ctx, key or value, w["key"], q_rank, 1, "key")
    v = einsum_dense(ctx, value, w["value"], q_rank, 1, "value")
    target = letters(rank)
    batch = [i for i in range(rank) if i not in attn and i != rank - 1]
    source, offset = "", rank
    for i in range(rank):
        if i in batch or i == rank - 1:
            source += target[i]
        else:
            source += chr(ord("a") + offset)
            offset += 1
    product = "".join([target[i] for i in batch] + [target[i] for i in attn]
                      + [source[i] for i in attn])
    scores = ctx.op("Einsum", [k, q], "scores", equation=f"{source},{target}->{product}")
    n = len(attn)
    probs = _softmax(ctx, scores, mask, mode, list(range(-n, 0)), causal,
                     expand_axis=-2 * n - 1)
    attended = ctx.op("Einsum", [probs, v], "attended",
                      equation=f"{product},{source}->{target}")
    return attended, probs


@register_converter("GroupedQueryAttention", "GroupQueryAttention", mask="own")
def convert_grouped_query_attention(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """GroupedQueryAttention: key/value heads shared by groups of query heads."""
    cfg = ctx.config
    query, value, key = qkv(ctx, inputs)
    _check_rank3(ctx, [query, value] + ([key] if key else []), ctx.class_name)
    nq, nkv = int(cfg["num_query_heads"]), int(cfg["num_key_value_heads"])
    head_dim = int(cfg["head_dim"])
    w = _sub_weights(ctx)
    for sub in ("query", "key", "value", "output"):
        ctx.require(sub in w, None, f"no stored weights for the {sub} projection")
    causal = flag(ctx, "use_causal_mask")
    window = int(cfg.get("sliding_window") or 0)
    ret = flag(ctx, "return_attention_scores")
    mask, q_mask = attention_masks(ctx, query, value, key, causal, window, True)
    mode = _softmax_mode(ctx, float(cfg.get("dropout") or 0.0) > 0.0 or ret)
    gate = _gate(ctx, query, w)
    scale = 1.0 / math.sqrt(float(head_dim))
    q = _heads(ctx, _projection(ctx, query, w["query"], "query", scale), nq, head_dim, "query")
    k = _heads(ctx, _projection(ctx, key or value, w["key"], "key"), nkv, head_dim, "key")
    v = _heads(ctx, _projection(ctx, value, w["value"], "value"), nkv, head_dim, "value")
    if nq != nkv:
        k = ctx.op("Repeat", [k], "key/repeated", repeats=[nq // nkv])
        v = ctx.op("Repeat", [v], "value/repeated", repeats=[nq // nkv])
    scores = ctx.op("MatMul", [q, k], "scores", transpose_b=True)
    probs = _softmax(ctx, scores, mask, mode, [-1], causal, window)
    attended = _merge_heads(ctx, ctx.op("MatMul", [probs, v], "attended"), nq, head_dim)
    if gate:
        attended = ctx.op("Mul", [attended, gate], "gated")
    out = _output_dense(ctx, attended, w["output"])
    ctx.output_masks = [q_mask]
    return [out, probs] if ret else [out]


