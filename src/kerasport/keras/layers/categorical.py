"""Categorical preprocessing layers on numbers: CategoryEncoding, Discretization,
IntegerLookup and Hashing; StringLookup, TextVectorization and HashedCrossing are recognised
and refused with a reason (they take strings, or hash crossed string forms).

Keras encodes with one_hot (a new last axis), or multi_hot / count (over axis 1, the last axis
of the usual (N, k) input; a batch of scalars is summed over the whole batch, which is refused).
"""

from __future__ import annotations

import numpy as np

from kerasport.keras.registry import LayerContext, register_converter

MODES = ("one_hot", "multi_hot", "count")


def encode(ctx: LayerContext, x: str, depth: int, mode: str, dtype: str = "float32") -> str:
    """Integer ids ``x`` as Keras' encode_categorical_inputs does for ``mode``."""
    if not ctx.builder.values[x].dtype.startswith(("int", "uint")):
        x = ctx.op("Cast", [x], "ids", dtype="int64")
    shape = ctx.shape(x)
    rank = ctx.rank(x)
    if mode == "one_hot":
        if rank > 1 and shape[-1] == 1:  # (..., 1) -> (..., depth), not (..., 1, depth)
            x = ctx.op("Reshape", [x], "squeeze", shape=list(shape[1:-1]))
    else:
        ctx.require(rank >= 2, "output_mode",
                    f"output_mode='{mode}' on a batch of scalars: Keras sums over the whole "
                    "batch, giving one row for all samples",
                    "give the input a last axis of ids, e.g. Input(shape=(1,))")
        if rank > 2:  # Keras reduces axis 1: move it last
            x = ctx.op("Transpose", [x], "ids_last", perm=[0, *range(2, rank), 1])
    return ctx.op("CategoryEncode", [x], depth=int(depth), mode=mode, dtype=dtype)


def _mode(ctx: LayerContext, allowed: tuple[str, ...]) -> str:
    mode = str(ctx.config.get("output_mode", allowed[0])).replace("-", "_")
    mode = "multi_hot" if mode == "binary" else mode  # Keras 2's old name
    ctx.require(mode in allowed, "output_mode", f"output_mode='{mode}' is not supported",
                f"use one of {', '.join(allowed)}")
    ctx.require(not ctx.config.get("sparse"), "sparse", "sparse outputs are not supported",
                "rebuild the layer with sparse=False (the default)")
    return mode


@register_converter("CategoryEncoding", cast_inputs=False, mask="drop")
def convert_category_encoding(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """CategoryEncoding(num_tokens, output_mode one_hot | multi_hot | count) of integer ids."""
    mode = _mode(ctx, MODES)
    ctx.require(len(inputs) == 1, None, "count_weights are not supported")
    return [encode(ctx, inputs[0], int(ctx.config["num_tokens"]), mode)]


def tf_keras_boundaries(summary: np.ndarray, num_bins: int) -> np.ndarray:
    """tf_keras' Discretization boundaries from its adapted quantile summary (values, weights):
    the summary compressed to num_bins weighted quantiles, all but the last value."""
    summary = np.asarray(summary, np.float32)
    epsilon = 1.0 / num_bins
    if summary.shape[1] * epsilon >= 1:
        percents = epsilon + np.arange(0.0, 1.0, epsilon)
        cum = summary[1].cumsum()
        summary = np.interp(percents, cum / cum[-1], summary[0])[None].astype(np.float32)
    return summary[0, :-1]


@register_converter("Discretization", mask="drop")
def convert_discretization(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Discretization: bucket ids as int, one_hot, multi_hot or count.

    The boundaries come from the config (given or adapted), or from tf_keras' adapted summary."""
    cfg = ctx.config
    mode = _mode(ctx, ("int", *MODES))
    bounds = cfg.get("bin_boundaries")
    if bounds is None:
        summary = [a for _, a in ctx.weights]
        ctx.require(len(summary) == 1 and np.ndim(summary[0]) == 2 and summary[0].shape[1] > 0
                    and cfg.get("num_bins"), "bin_boundaries",
                    "neither bin_boundaries nor an adapted summary is stored",
                    "adapt the layer (or give bin_boundaries) before saving")
        bounds = tf_keras_boundaries(summary[0], int(cfg["num_bins"]))
    bounds = np.asarray(bounds, np.float32).reshape(-1)
    ctx.require(bool(np.all(np.diff(bounds) >= 0)), "bin_boundaries",
                "bin_boundaries are not sorted")
    int_dtype = "int32" if ctx.keras_major >= 3 else str(cfg.get("dtype") or "int64")
    int_dtype = int_dtype if int_dtype in ("int32", "int64") else "int64"
    ids = ctx.op("Bucketize", [inputs[0], ctx.const("bin_boundaries", bounds)],
                 None if mode == "int" else "bins", dtype=int_dtype)
    return [ids if mode == "int" else encode(ctx, ids, bounds.size + 1, mode)]


MAX_VOCABULARY = 1 << 24


def _asset_vocabulary(ctx: LayerContext) -> list[int] | None:
    """The adapted vocabulary Keras 3 keeps in the archive (assets/.../vocabulary.txt, one
    token per line, special tokens first), or None if the file holds none."""
    data = ctx.assets().get("vocabulary.txt")
    if data is None:
        return None
    lines = data.decode("utf-8", "replace").split("\n")
    ctx.require(len(lines) <= MAX_VOCABULARY, "vocabulary",
                f"the stored vocabulary has {len(lines)} entries")
    try:
        return [int(t) for t in lines if t.strip()]
    except ValueError:
        ctx.require(False, "vocabulary", "the stored vocabulary.txt holds non-integer tokens")
        raise  # (require raised)


def _vocabulary(ctx: LayerContext) -> np.ndarray:
    vocab = ctx.config.get("vocabulary")
    ctx.require(not isinstance(vocab, str), "vocabulary",
                "a vocabulary file path is not supported", "pass the vocabulary as a list")
    if vocab is None:
        vocab = _asset_vocabulary(ctx)
    ctx.require(vocab is not None, "vocabulary",
                "the adapted vocabulary is not in the file (Keras 3 keeps it in the .keras "
                "archive's assets/; .h5 files lose it)", "save the model as .keras, or rebuild "
                "the layer with vocabulary=layer.get_vocabulary() and save again")
    arr = np.asarray(vocab)
    ctx.require(arr.ndim == 1 and arr.size > 0 and arr.dtype.kind in "iu", "vocabulary",
                "the vocabulary must be a non-empty list of integers")
    return arr.astype(np.int64)


def _idf(ctx: LayerContext, found_special: bool, token_start: int, depth: int) -> np.ndarray:
    """The idf weights as Keras pads those of the config; an adapted layer stores them, padded
    already, as its idf_weights variable."""
    idf = ctx.config.get("idf_weights")
    if idf is None:
        stored = [a for n, a in ctx.weights if n and n.endswith("idf_weights")]
        ctx.require(bool(stored), "idf_weights", "tf_idf needs idf_weights; none are stored")
        idf = stored[0].astype(np.float32).reshape(-1)
        return np.pad(idf, (0, max(depth - idf.size, 0)))[:max(depth, idf.size)]
    idf = np.asarray(idf, np.float32).reshape(-1)
    front = 0 if found_special else token_start
    idf = np.pad(idf, (front, 0), constant_values=np.average(idf) if front else 0)
    return np.pad(idf, (0, max(depth - idf.size, 0)))


@register_converter("IntegerLookup", cast_inputs=False, mask="drop")
def convert_integer_lookup(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """IntegerLookup with its vocabulary in the config: int (or invert) and the encodings.

    mask_token, oov_token, num_oov_indices (floormod buckets), invert, pad_to_max_tokens, and
    output_mode int | one_hot | multi_hot | count | tf_idf."""
    cfg = ctx.config
    mode = _mode(ctx, ("int", *MODES, "tf_idf"))
    ctx.require(cfg.get("oov_method", "floormod") == "floormod", "oov_method",
                f"oov_method='{cfg.get('oov_method')}' (FarmHash of the values' string form) is "
                "not supported", "use oov_method='floormod' (the default)")
    invert = bool(cfg.get("invert", False))
    num_oov = int(cfg.get("num_oov_indices", 1))
    mask, oov = cfg.get("mask_token"), cfg.get("oov_token", -1)
    vocab = _vocabulary(ctx)
    oov_start = 1 if mask is not None and mode == "int" else 0
    token_start = oov_start + num_oov
    special = [mask] * oov_start + [oov] * num_oov
    found_special = vocab.size >= token_start and list(vocab[:token_start]) == special
    tokens = vocab[token_start:] if found_special else vocab
    ids = np.arange(token_start, token_start + tokens.size, dtype=np.int64)
    if invert:
        ctx.require(oov is not None, "oov_token", "invert=True needs an oov_token")
        table, default = dict(zip(ids.tolist(), tokens.tolist())), int(oov)
        if mask is not None:
            table[0] = int(mask)
    else:
        table = dict(zip(tokens.tolist(), ids.tolist()))
        default = -1 if num_oov != 1 else oov_start
        if mask is not None:  # masked ids: 0 in int mode, dropped from the encodings
            table[int(mask)] = 0 if mode == "int" else -1
    keys = np.asarray(sorted(table), np.int64)
    values = np.asarray([table[k] for k in sorted(table)], np.int64)
    found = ctx.op("Lookup", [inputs[0], ctx.const("keys", keys), ctx.const("values", values)],
                   None if mode == "int" else "ids", default=default,
                   oov_buckets=num_oov if num_oov > 1 and not invert else 0,
                   oov_start=oov_start, dtype="int64")
    if mode == "int":
        return [found]
    depth = int(cfg["max_tokens"]) if cfg.get("pad_to_max_tokens") and cfg.get(
        "max_tokens") else token_start + tokens.size
    if mode != "tf_idf":  # Keras 3 keeps the lookup's int64 for the encodings
        return [encode(ctx, found, depth, mode, "int64" if ctx.keras_major >= 3 else "float32")]
    counts = encode(ctx, found, depth, "count")
    idf = _idf(ctx, found_special, token_start, depth)
    return [ctx.op("Mul", [counts, ctx.const("idf_weights", idf)])]


@register_converter("StringLookup", "TextVectorization", cast_inputs=False, mask="drop")
def convert_refused_strings(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Refused: works on strings, and kerasport runs numeric arrays only."""
    ctx.require(False, None, f"{ctx.class_name} works on strings, and kerasport runs numeric "
                "arrays only", "turn the strings into integer ids before the model (the "
                "vocabulary is layer.get_vocabulary()), and convert the model that takes the ids")
    return []


def _dtype(ctx: LayerContext, default: str) -> str:
    """The layer's dtype from its config (a name, or Keras 3's DTypePolicy)."""
    dtype = ctx.config.get("dtype")
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name")
    dtype = str(dtype or default)
    return dtype if dtype in ("int32", "int64", "float32") else default


@register_converter("Hashing", cast_inputs=False, mask="drop")
def convert_hashing(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Hashing(num_bins, mask_value) of numbers: FarmHash64 of their decimal form (no salt)."""
    cfg = ctx.config
    mode = _mode(ctx, ("int", *MODES))
    ctx.require(cfg.get("salt") is None, "salt", "a salted Hashing uses SipHash, which "
                "kerasport does not implement", "use Hashing without a salt")
    x = inputs[0]
    kind = ctx.builder.values[x].dtype
    numeric = kind.startswith(("int", "uint")) or (  # Keras 3 truncates floats to int64
        kind.startswith("float") and ctx.keras_major >= 3)
    ctx.require(numeric, None, f"Hashing of {kind} values is not supported", "feed integers")
    mask = cfg.get("mask_value")
    ctx.require(mask is None or isinstance(mask, (int, float)), "mask_value",
                "only a numeric mask_value is supported")
    dtype = _dtype(ctx, "int64" if mode == "int" else "float32")
    bins = ctx.op("FarmHash", [x], None if mode == "int" else "bins",
                  num_bins=int(cfg["num_bins"]), mask_value=mask,
                  dtype=dtype if mode == "int" else "int64")
    return [bins if mode == "int" else encode(ctx, bins, int(cfg["num_bins"]), mode, dtype)]


@register_converter("HashedCrossing", cast_inputs=False, mask="drop")
def convert_refused_hashing(ctx: LayerContext, inputs: list[str]) -> list[str]:
    """Refused: hashes crossed string forms (FarmHash64 fingerprints of the feature cross)."""
    ctx.require(False, None, "HashedCrossing hashes the cross of its inputs' string forms, "
                "which kerasport does not implement",
                "cross and hash the features before the model")
    return []


# listed apart in docs/layers.md
convert_refused_strings.refused = convert_refused_hashing.refused = True  # type: ignore
