"""Call arguments and masks of the attention layers (attention.py): query/value/key given by
position or keyword, the Keras masks they carry, explicit mask inputs, and their logical and
as one 0/1 mask.
"""

from __future__ import annotations

from kerasport.keras.config import TensorRef
from kerasport.keras.registry import LayerContext


# -- call arguments and masks -----------------------------------------------------------------
def kw_tensor(ctx: LayerContext, name: str) -> str | None:
    """The IR value of a tensor given as keyword argument ``name`` (None if absent)."""
    ref = ctx.call.kwargs.get(name)
    if not isinstance(ref, TensorRef):
        return None
    assert ctx.resolve is not None
    return ctx.resolve(ref)


def mask_of(ctx: LayerContext, value: str | None) -> str | None:
    """The Keras mask carried by ``value`` (None when it has none)."""
    lookup = getattr(ctx, "mask_of", None)
    if value is None or lookup is None:
        return None
    return lookup(value)


def as_mask(ctx: LayerContext, value: str | None, suffix: str) -> str | None:
    """A mask or mask-like input as float32 1/0 (bool and int inputs are cast)."""
    if value is None:
        return None
    if ctx.builder.values[value].dtype != "float32":
        value = ctx.op("Cast", [value], suffix, dtype="float32")
    return value


def mask_and(ctx: LayerContext, masks: list[str | None], suffix: str) -> str | None:
    """Logical and of 0/1 float masks that broadcast together."""
    present = [m for m in masks if m is not None]
    if not present:
        return None
    out = present[0]
    for i, m in enumerate(present[1:]):
        out = ctx.op("Mul", [out, m], f"{suffix}{i}")
    return out


def flag(ctx: LayerContext, name: str) -> bool:
    """A boolean call argument (use_causal_mask=True, return_attention_scores=True)."""
    return bool(ctx.call.kwargs.get(name))


# -- MultiHeadAttention, GroupedQueryAttention -------------------------------------------------
def qkv(ctx: LayerContext, inputs: list[str]) -> tuple[str, str, str | None]:
    """query, value and key (None when not given) from positional or keyword arguments."""
    pos = list(inputs)
    query = pos.pop(0) if pos else kw_tensor(ctx, "query")
    value = pos.pop(0) if pos else kw_tensor(ctx, "value")
    key = pos.pop(0) if pos else kw_tensor(ctx, "key")
    ctx.require(query is not None and value is not None, None,
                f"{ctx.class_name} needs query and value tensors")
    assert query is not None and value is not None
    return query, value, key


def attention_masks(ctx: LayerContext, query: str, value: str, key: str | None,
                     causal: bool, window: int, rank3: bool,
                     attn: tuple[int, ...] = (1,)) -> tuple[str | None, str | None]:
    """(the combined 0/1 mask broadcastable to (N, T, S), the query's Keras mask)."""
    q_mask = mask_of(ctx, query)
    v_mask = kw_tensor(ctx, "value_mask") or mask_of(ctx, value)
    k_mask = kw_tensor(ctx, "key_mask") or (mask_of(ctx, key) if key else None)
    attention_mask = as_mask(ctx, kw_tensor(ctx, "attention_mask"), "attention_mask")
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
    parts = [as_mask(ctx, q_mask, "query_mask")]
    if parts[0]:
        parts[0] = ctx.op("Reshape", [parts[0]], "query_mask3", shape=[-1, 1])
    for name, m in (("value", v_mask), ("key", k_mask)):
        m = as_mask(ctx, m, f"{name}_mask")
        parts.append(ctx.op("Reshape", [m], f"{name}_mask3", shape=[1, -1]) if m else None)
    combined = mask_and(ctx, [attention_mask, *parts], "mask_and")
    return combined, q_mask


def clear_input_masks(ctx: LayerContext, values: list[str | None]) -> None:
    """Keras 3's MultiHeadAttention.call removes the masks of its query, value and key tensors
    (set_keras_mask(x, None)): layers that later read those tensors' masks find none."""
    drop = getattr(ctx, "drop_mask", None)
    if ctx.keras_major >= 3 and drop is not None:
        for v in values:
            if v is not None:
                drop(v)
