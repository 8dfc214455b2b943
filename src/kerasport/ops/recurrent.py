"""Recurrent kernels: SimpleRNN, LSTM, GRU (both reset_after variants) and ConvLSTM.

The input projection of every timestep is one matrix product (Dense); Python loops only over time.
Keras' gate orders: LSTM (i, f, c, o), GRU (z, r, h). A mask (N, T) of booleans carries the
state over masked steps, as Keras does; the output of a masked step repeats the previous one
(zero with ``zero_output_for_mask``). Outputs: the sequence (or the last output), then the
final states.
"""

from __future__ import annotations

import numpy as np

from kerasport.ops.activations import activation_fn, apply_activation
from kerasport.ops.common import window_out
from kerasport.ops.conv import Conv
from kerasport.ops.linalg import Dense
from kerasport.ops.registry import Traits, op

# activations are specs {"op": ..., **attributes} (None: linear), see apply_activation
TANH = {"op": "Tanh"}
SIGMOID = {"op": "Sigmoid"}


def _time_major(x, go_backwards, mask):
    xs = np.swapaxes(x, 0, 1)
    ms = None if mask is None else np.swapaxes(np.asarray(mask, bool), 0, 1)
    if go_backwards:
        xs = xs[::-1]
        ms = None if ms is None else ms[::-1]
    return xs, ms


def _state(given, shape, dtype):
    """An initial state: the one given, or zeros."""
    return np.zeros(shape, dtype) if given is None else given.astype(dtype)


def _keep(ms, t, ndim):
    """The mask of step ``t`` shaped to broadcast against (N, ...) states (None: no mask)."""
    return None if ms is None else ms[t].reshape((-1,) + (1,) * (ndim - 1))


def _carry(m, new, old):
    """``new`` where the step is kept, ``old`` where it is masked."""
    return new if m is None else np.where(m, new, old)


def _finish(outputs, last, states, return_sequences):
    y = np.stack(outputs, axis=1) if return_sequences else last
    return (y, *states)


def _rnn_shapes(shapes, return_sequences, n_states):
    x, rk = shapes[0], shapes[2]
    if x is None:
        return [None] * (1 + n_states)
    units = rk[0]
    y = (x[0], x[1], units) if return_sequences else (x[0], units)
    return [y] + [(x[0], units)] * n_states


def _simple_rnn(shapes, return_sequences=False, **_):
    """x (N, T, F) -> outputs (N, T, U) or (N, U), then h (N, U); U = recurrent kernel rows."""
    return _rnn_shapes(shapes, return_sequences, 1)


@op("SimpleRNN", shape=_simple_rnn, traits=Traits(recurrent=True, mask_input=5))
def SimpleRNN(x, kernel, recurrent_kernel, bias=None, h0=None, mask=None, activation=TANH,
              return_sequences=False, go_backwards=False, zero_output_for_mask=False):
    """h_t = act(x_t W + h_{t-1} U + b); returns (outputs, h)."""
    n, units = x.shape[0], recurrent_kernel.shape[0]
    proj = Dense(x, kernel, bias)
    xs, ms = _time_major(proj, go_backwards, mask)
    h = _state(h0, (n, units), x.dtype)
    out = np.zeros((n, units), x.dtype)
    outputs = []
    act = activation_fn(activation)
    for t in range(xs.shape[0]):
        new = act(xs[t] + h @ recurrent_kernel)
        m = _keep(ms, t, 2)
        h, out = _carry(m, new, h), _carry(m, new, 0.0 if zero_output_for_mask else out)
        outputs.append(out)
    return _finish(outputs, out, [h], return_sequences)


def _lstm(shapes, return_sequences=False, **_):
    """As SimpleRNN: outputs, then h and c."""
    return _rnn_shapes(shapes, return_sequences, 2)


@op("LSTM", shape=_lstm, traits=Traits(recurrent=True, mask_input=6))
def LSTM(x, kernel, recurrent_kernel, bias=None, h0=None, c0=None, mask=None,
         activation=TANH, recurrent_activation=SIGMOID, return_sequences=False,
         go_backwards=False, zero_output_for_mask=False):
    """Keras LSTM, gates (i, f, c, o); returns (outputs, h, c).

    Each step applies the recurrent activation once to i and f together (activations are
    elementwise) and writes the recurrent product into one buffer: fewer calls per step,
    which is what a small batch pays for."""
    n, units = x.shape[0], recurrent_kernel.shape[0]
    proj = Dense(x, kernel, bias)
    xs, ms = _time_major(proj, go_backwards, mask)
    h = _state(h0, (n, units), x.dtype)
    c = _state(c0, (n, units), x.dtype)
    out = np.zeros((n, units), x.dtype)
    act, rec = activation_fn(activation), activation_fn(recurrent_activation)
    z = np.empty((n, 4 * units), x.dtype)
    outputs = []
    for t in range(xs.shape[0]):
        np.matmul(h, recurrent_kernel, out=z)
        z += xs[t]
        fi = rec(z[:, :2 * units])
        g = act(z[:, 2 * units:3 * units])
        o = rec(z[:, 3 * units:])
        new_c = fi[:, units:] * c + fi[:, :units] * g
        new_h = o * act(new_c)
        m = _keep(ms, t, new_h.ndim)
        c, h = _carry(m, new_c, c), _carry(m, new_h, h)
        out = _carry(m, new_h, 0.0 if zero_output_for_mask else out)
        outputs.append(out)
    return _finish(outputs, out, [h, c], return_sequences)


def _gru(shapes, return_sequences=False, **_):
    """As SimpleRNN: outputs, then h."""
    return _rnn_shapes(shapes, return_sequences, 1)


@op("GRU", shape=_gru, traits=Traits(recurrent=True, mask_input=5))
def GRU(x, kernel, recurrent_kernel, bias=None, h0=None, mask=None, activation=TANH,
        recurrent_activation=SIGMOID, reset_after=True, return_sequences=False,
        go_backwards=False, zero_output_for_mask=False):
    """Keras GRU, gates (z, r, h); reset_after applies the reset gate after the recurrent
    product (bias (2, 3u)), else before it (bias (3u,)). Returns (outputs, h)."""
    n, units = x.shape[0], recurrent_kernel.shape[0]
    proj = Dense(x, kernel)
    rec_bias = None
    if bias is not None:
        if reset_after:
            proj += bias[0]
            rec_bias = bias[1]
        else:
            proj += bias
    xs, ms = _time_major(proj, go_backwards, mask)
    h = _state(h0, (n, units), x.dtype)
    out = np.zeros((n, units), x.dtype)
    outputs = []
    u_zr, u_h = recurrent_kernel[:, :2 * units], recurrent_kernel[:, 2 * units:]
    act, rec_act = activation_fn(activation), activation_fn(recurrent_activation)
    for t in range(xs.shape[0]):
        xt = xs[t]
        # z and r in one call (activations are elementwise): fewer calls per step
        if reset_after:
            rec = h @ recurrent_kernel
            if rec_bias is not None:
                rec = rec + rec_bias
            zr = rec_act(xt[:, :2 * units] + rec[:, :2 * units])
            z, r = zr[:, :units], zr[:, units:]
            hh = act(xt[:, 2 * units:] + r * rec[:, 2 * units:])
        else:
            zr = rec_act(xt[:, :2 * units] + h @ u_zr)
            z, r = zr[:, :units], zr[:, units:]
            hh = act(xt[:, 2 * units:] + (r * h) @ u_h)
        new_h = z * h + (1 - z) * hh
        m = _keep(ms, t, 2)
        h, out = _carry(m, new_h, h), _carry(m, new_h, 0.0 if zero_output_for_mask else out)
        outputs.append(out)
    return _finish(outputs, out, [h], return_sequences)


def _conv_lstm(shapes, strides=(1,), dilations=(1,), padding="valid", return_sequences=False,
               **_):
    """x (N, T, *S, C) -> outputs (N, T, *O, F) or (N, *O, F), then h and c (N, *O, F); O as
    for Conv, F = recurrent kernel's second-to-last dim."""
    x, w, rk = shapes[0], shapes[1], shapes[2]
    if x is None:
        return [None] * 3
    r = len(w) - 2
    out = [window_out(x[2 + i], w[i], strides[i], dilations[i], padding) for i in range(r)]
    state = (x[0], *out, rk[-2])
    y = (x[0], x[1], *out, rk[-2]) if return_sequences else state
    return [y, state, state]


@op("ConvLSTM", shape=_conv_lstm, traits=Traits(recurrent=True, mask_input=6))
def ConvLSTM(x, kernel, recurrent_kernel, bias=None, h0=None, c0=None, mask=None,
             strides=(1,), dilations=(1,), padding="valid", activation=TANH,
             recurrent_activation=SIGMOID, return_sequences=False, go_backwards=False,
             zero_output_for_mask=False):
    """Keras ConvLSTM1D/2D/3D: an LSTM whose products are convolutions.

    x (N, T, *S, C); the input convolution of every timestep is one Conv call, the recurrent
    one is 'same'-padded with stride 1. Gates (i, f, c, o) on the last axis. Returns
    (outputs, h, c)."""
    n, steps = x.shape[0], x.shape[1]
    proj = Conv(x.reshape((n * steps, *x.shape[2:])), kernel, bias, strides=strides,
                dilations=dilations, padding=padding)
    proj = proj.reshape((n, steps, *proj.shape[1:]))
    xs, ms = _time_major(proj, go_backwards, mask)
    units = recurrent_kernel.shape[-2]
    rank = recurrent_kernel.ndim - 2
    state_shape = (n, *proj.shape[2:-1], units)
    h = _state(h0, state_shape, x.dtype)
    c = _state(c0, state_shape, x.dtype)
    out = np.zeros(state_shape, x.dtype)
    outputs = []
    for t in range(xs.shape[0]):
        z = xs[t] + Conv(h, recurrent_kernel, None, strides=[1] * rank, dilations=[1] * rank,
                         padding="same")
        i = apply_activation(recurrent_activation, z[..., :units])
        f = apply_activation(recurrent_activation, z[..., units:2 * units])
        g = apply_activation(activation, z[..., 2 * units:3 * units])
        o = apply_activation(recurrent_activation, z[..., 3 * units:])
        new_c = f * c + i * g
        new_h = o * apply_activation(activation, new_c)
        m = _keep(ms, t, new_h.ndim)
        c, h = _carry(m, new_c, c), _carry(m, new_h, h)
        out = _carry(m, new_h, 0.0 if zero_output_for_mask else out)
        outputs.append(out)
    return _finish(outputs, out, [h, c], return_sequences)
