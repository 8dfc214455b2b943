"""Attention layers: Attention, AdditiveAttention, MultiHeadAttention, GroupedQueryAttention,
and the tensor-contraction layers EinsumDense and Dot.

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
from kerasport.keras.registry import LayerContext, register_converter

# Keras 3's TensorFlow dot_product_attention fills masked logits with this (fully masked rows
# then get a uniform distribution, not zeros)
_DPA_FILL = 3.38953e38 * -0.7


# -- call arguments and masks -----------------------------------------------------------------
def _kw_tensor(ctx: LayerContext, name: str) -> str | None:
    """The IR value of a tensor given as keyword argument ``name`` (None if absent)."""
    ref = ctx.call.kwargs.get(name)
    if not isinstance(ref, TensorRef):
        return None
    assert ctx.resolve is not None
    return ctx.resolve(ref)


def _mask_of(ctx: LayerContext, value: str | None) -> str | None:
    """The Keras mask carried by ``value`` (None when it has none)."""
    lookup = getattr(ctx, "mask_of", None)
    if value is None or lookup is None:
        return None
    return lookup(value)


def _as_mask(ctx: LayerContext, value: str | None, suffix: str) -> str | None:
    """A mask or mask-like input as float32 1/0 (bool and int inputs are cast)."""
    if value is None:
        return None
    if ctx.builder.values[value].dtype != "float32":
        value = ctx.op("Cast", [value], suffix, dtype="float32")
    return value


def _and(ctx: LayerContext, masks: list[str | None], suffix: str) -> str | None:
    """Logical and of 0/1 float masks that broadcast together."""
    present = [m for m in masks if m is not None]
    if not present:
        return None
    out = present[0]
    for i, m in enumerate(present[1:]):
        out = ctx.op("Mul", [out, m], f"{suffix}{i}")
    return out


def _flag(ctx: LayerContext, name: str) -> bool:
    """A boolean call argument (use_causal_mask=True, return_attention_scores=True)."""
    return bool(ctx.call.kwargs.get(name))


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
    explicit = ctx.call.kwargs.get("mask")
    resolve = ctx.resolve
    assert resolve is not None
    if isinstance(explicit, (list, tuple)):  # mask=[query_mask, value_mask] given
        masks = [resolve(m) if isinstance(m, TensorRef) else None for m in explicit]
    else:  # the masks the inputs carry
        masks = [_mask_of(ctx, resolve(r)) for r in ctx.call.tensors()]
    masks += [None, None]
    q_mask = _as_mask(ctx, masks[0], "query_mask")
    v_mask = _as_mask(ctx, masks[1], "value_mask")
    causal = _flag(ctx, "use_causal_mask") or bool(cfg.get("causal"))
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
        if scale:
            scores = ctx.op("Mul", [scores, scale], "scaled")
    else:
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
    v_mask3 = ctx.op("Reshape", [v_mask], "value_mask3", shape=[1, -1]) if v_mask else None
    probs = _softmax(ctx, scores, v_mask3, {"fill": -1e9, "additive": True,
                                             "zero_masked": False}, [-1], causal)
    out = ctx.op("MatMul", [probs, v], "attended" if q_mask else None)
    if q_mask:
        out = ctx.op("Mul", [out, ctx.op("Reshape", [q_mask], "query_mask3", shape=[-1, 1])])
    ctx.output_masks = [q_mask]
    if _flag(ctx, "return_attention_scores"):
        return [out, probs]
    return [out]


# -- MultiHeadAttention, GroupedQueryAttention -------------------------------------------------
def _qkv(ctx: LayerContext, inputs: list[str]) -> tuple[str, str, str | None]:
    """query, value and key (None when not given) from positional or keyword arguments."""
    pos = list(inputs)
    query = pos.pop(0) if pos else _kw_tensor(ctx, "query")
    value = pos.pop(0) if pos else _kw_tensor(ctx, "value")
    key = pos.pop(0) if pos else _kw_tensor(ctx, "key")
    ctx.require(query is not None and value is not None, None,
                f"{ctx.class_name} needs query and value tensors")
    assert query is not None and value is not None
    return query, value, key


def _attention_masks(ctx: LayerContext, query: str, value: str, key: str | None,
                     causal: bool, window: int, rank3: bool,
                     attn: tuple[int, ...] = (1,)) -> tuple[str | None, str | None]:
    """(the combined 0/1 mask broadcastable to (N, T, S), the query's Keras mask)."""
    q_mask = _mask_of(ctx, query)
    v_mask = _kw_tensor(ctx, "value_mask") or _mask_of(ctx, value)
    k_mask = _kw_tensor(ctx, "key_mask") or (_mask_of(ctx, key) if key else None)
    attention_mask = _as_mask(ctx, _kw_tensor(ctx, "attention_mask"), "attention_mask")
    auto = [m for m in (q_mask, v_mask, k_mask) if m is not None]
    ctx.require(rank3 or not auto, None,
                f"{ctx.class_name}: Keras masks on inputs of rank > 3 are not supported",
                "give an explicit attention_mask instead")
    ctx.require(not causal or rank3 or attn == (1,), None,
                "use_causal_mask with attention_axes other than (1,) is not supported")
    ctx.require(not window or rank3, "sliding_window",
                "sliding_window on inputs of rank > 3 is not supported")
    if attention_mask and ctx.keras_major < 3 and (auto or causal):
        # Keras 2 casts attention_mask to bool only when it combines it with other masks
        attention_mask = ctx.op("MaskNotEqual", [attention_mask], "attention_mask_bool",
                                value=0.0, dtype="float32")
    parts = [_as_mask(ctx, q_mask, "query_mask")]
    if parts[0]:
        parts[0] = ctx.op("Reshape", [parts[0]], "query_mask3", shape=[-1, 1])
    for name, m in (("value", v_mask), ("key", k_mask)):
        m = _as_mask(ctx, m, f"{name}_mask")
        parts.append(ctx.op("Reshape", [m], f"{name}_mask3", shape=[1, -1]) if m else None)
    combined = _and(ctx, [attention_mask, *parts], "mask_and")
    return combined, q_mask


def _clear_input_masks(ctx: LayerContext, values: list[str | None]) -> None:
    """Keras 3's MultiHeadAttention.call removes the masks of its query, value and key tensors
    (set_keras_mask(x, None)): layers that later read those tensors' masks find none."""
    drop = getattr(ctx, "drop_mask", None)
    if ctx.keras_major >= 3 and drop is not None:
        for v in values:
            if v is not None:
                drop(v)


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
    query, value, key = _qkv(ctx, inputs)
    heads, key_dim = int(cfg["num_heads"]), int(cfg["key_dim"])
    value_dim = int(cfg.get("value_dim") or key_dim)
    w = _sub_weights(ctx)
    for sub in ("query", "key", "value", "output"):
        ctx.require(sub in w, None, f"no stored weights for the {sub} projection")
    q_rank = ctx.rank(query)
    attn = _attention_axes(ctx, q_rank + 1)
    rank3 = q_rank == 3 and attn == (1,)
    causal = _flag(ctx, "use_causal_mask")
    window = int(cfg.get("sliding_window") or 0)
    ret = _flag(ctx, "return_attention_scores")
    mask, q_mask = _attention_masks(ctx, query, value, key, causal, window, rank3, attn)
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
        out = _einsum_dense(ctx, attended, w["output"], q_rank + 1, 2, "output")
    ctx.output_masks = [q_mask]
    _clear_input_masks(ctx, [query, value, key])
    return [out, probs] if ret else [out]


def _letters(n: int, start: int = 0) -> str:
    return "".join(chr(ord("a") + start + i) for i in range(n))


def _einsum_dense(ctx: LayerContext, x: str, w: dict[str, np.ndarray], x_rank: int,
                  bound: int, name: str) -> str:
    """Keras' MHA projection: the last ``bound`` axes of x contract with the kernel."""
    kernel = w["kernel"]
    free = x_rank - bound
    n_out = kernel.ndim - bound
    xs = _letters(free + bound)
    ks = xs[free:] + _letters(n_out, free + bound)
    eq = f"{xs},{ks}->{xs[:free]}{ks[bound:]}"
    y = ctx.op("Einsum", [x, ctx.const(f"{name}/kernel", kernel)], name, equation=eq)
    if "bias" in w:
        y = ctx.op("Add", [y, ctx.const(f"{name}/bias", w["bias"])], f"{name}/biased")
    return y


def _general_attention(ctx: LayerContext, query: str, value: str, key: str | None,
                       w: dict[str, dict[str, np.ndarray]], q_rank: int,
                       attn: tuple[int, ...], mask: str | None, mode: dict[str, Any],
                       causal: bool) -> tuple[str, str]:
    """MHA over any attention_axes with Keras' own einsum equations (projected rank r + 1)."""
    rank = q_rank + 1
    scale = 1.0 / math.sqrt(float(int(ctx.config["key_dim"])))
    q = _einsum_dense(ctx, query, {k: v * np.float32(scale) for k, v in w["query"].items()},
                      q_rank, 1, "query")
    k = _einsum_dense(ctx, key or value, w["key"], q_rank, 1, "key")
    v = _einsum_dense(ctx, value, w["value"], q_rank, 1, "value")
    target = _letters(rank)
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
    query, value, key = _qkv(ctx, inputs)
    _check_rank3(ctx, [query, value] + ([key] if key else []), ctx.class_name)
    nq, nkv = int(cfg["num_query_heads"]), int(cfg["num_key_value_heads"])
    head_dim = int(cfg["head_dim"])
    w = _sub_weights(ctx)
    for sub in ("query", "key", "value", "output"):
        ctx.require(sub in w, None, f"no stored weights for the {sub} projection")
    causal = _flag(ctx, "use_causal_mask")
    window = int(cfg.get("sliding_window") or 0)
    ret = _flag(ctx, "return_attention_scores")
    mask, q_mask = _attention_masks(ctx, query, value, key, causal, window, True)
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


# -- EinsumDense, Dot --------------------------------------------------------------------------
@register_converter("EinsumDense", mask="pass")
def convert_einsum_dense(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """EinsumDense: einsum(equation, x, kernel) (+ bias, broadcast as stored) + activation."""
    cfg = ctx.config
    ctx.require(not cfg.get("lora_rank"), "lora_rank", "LoRA-enabled EinsumDense is not "
                "supported", "merge the LoRA weights and save again")
    ctx.require(cfg.get("quantization_config") in (None, {}), "quantization_config",
                "Keras-quantized EinsumDense is not supported", "save the float model")
    names = ["kernel", "bias"] if cfg.get("bias_axes") else ["kernel"]
    weights = ctx.weights_as(names)
    act = cfg.get("activation")
    linear = act in (None, "linear")
    y = ctx.op("Einsum", [inputs[0], ctx.const("kernel", weights[0])],
               None if linear and len(weights) == 1 else "einsum", equation=str(cfg["equation"]))
    if len(weights) > 1:
        y = ctx.op("Add", [y, ctx.const("bias", weights[1])], None if linear else "biased")
    return [ctx.activation(y, act, None)]


@register_converter("Dot", mask="drop")
def convert_dot(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Dot(axes, normalize): Keras' batch_dot of two inputs (one contracted axis each)."""
    ctx.require(len(inputs) == 2, None, "Dot takes exactly two inputs")
    ranks = [ctx.rank(v) for v in inputs]
    axes_cfg = ctx.config.get("axes", -1)
    if isinstance(axes_cfg, int):
        axes = [axes_cfg % r if axes_cfg < 0 else axes_cfg for r in ranks]
    else:
        axes = [a % r if a < 0 else a for a, r in zip(axes_cfg, ranks)]
    ctx.require(0 not in axes, "axes", "Dot cannot contract the batch axis")
    x, y = inputs
    if ctx.config.get("normalize"):
        eps = 1e-7 if ctx.keras_major >= 3 else 1e-6
        x = ctx.op("L2Normalize", [x], "normalized_x", axes=[axes[0]], epsilon=eps)
        y = ctx.op("L2Normalize", [y], "normalized_y", axes=[axes[1]], epsilon=eps)
    xs = _letters(ranks[0])
    ys = "a" + _letters(ranks[1] - 1, ranks[0])
    ys = ys[:axes[1]] + xs[axes[0]] + ys[axes[1] + 1:]
    out = xs[:axes[0]] + xs[axes[0] + 1:] + "".join(
        c for i, c in enumerate(ys) if i not in (0, axes[1]))
    both2 = ranks == [2, 2]
    z = ctx.op("Einsum", [x, y], "dot" if both2 else None, equation=f"{xs},{ys}->{out}")
    if both2:
        z = ctx.op("Reshape", [z], None, shape=[1])
    return [z]
