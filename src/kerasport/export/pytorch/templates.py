"""The source of the functions and classes a generated module may include (pure torch), by
name, and which of them each one calls. The emitters ask for them through
``ModuleContext.helper``; only those a model uses are written into its file."""

from __future__ import annotations

# helpers a helper calls
HELPER_DEPS: dict[str, tuple[str, ...]] = {"avg_pool_same": ("same_pad",),
                                           "KerasRNN": ("keras_activation",),
                                           "KerasConvLSTM": ("keras_activation", "same_pad",
                                                             "conv_nd")}

# Generated helper functions: name -> source (pure torch), included only when used.
HELPER_SOURCES: dict[str, str] = {
    "same_pad": '''
def same_pad(x: torch.Tensor, kernel: list[int], stride: list[int], dilation: list[int],
             value: float = 0.0) -> torch.Tensor:
    """TensorFlow's 'same' padding of the spatial axes of x (N, C, *S): the odd pixel after."""
    pads: list[int] = []
    for i in range(len(kernel) - 1, -1, -1):
        size = x.size(2 + i)
        out = (size + stride[i] - 1) // stride[i]
        total = (out - 1) * stride[i] + (kernel[i] - 1) * dilation[i] + 1 - size
        total = total if total > 0 else 0
        pads.append(total // 2)
        pads.append(total - total // 2)
    return F.pad(x, pads, mode="constant", value=value)
''',
    "KerasAffine": '''
class KerasAffine(nn.Module):
    """x * weight + bias, broadcast: Keras' inference BatchNormalization with its moving
    statistics folded into the scale and shift."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight + self.bias
''',
    "avg_pool_same": '''
def avg_pool_same(x: torch.Tensor, kernel: list[int], stride: list[int]) -> torch.Tensor:
    """Keras' 'same' average pooling: each window's sum divided by its real (unpadded)
    pixels, counted by pooling a channel of ones padded along with x."""
    dilation = [1] * len(kernel)
    both = same_pad(torch.cat([x, torch.ones_like(x[:, :1])], 1), kernel, stride, dilation)
    if len(kernel) == 1:
        pooled = F.avg_pool1d(both, kernel, stride)
    elif len(kernel) == 2:
        pooled = F.avg_pool2d(both, kernel, stride)
    else:
        pooled = F.avg_pool3d(both, kernel, stride)
    return pooled[:, :-1] / pooled[:, -1:]
''',
    "masked_softmax": '''
def masked_softmax(x: torch.Tensor, mask: torch.Tensor | None, axes: list[int],
                   causal: bool = False, window: int = 0, fill: float = -1e9,
                   additive: bool = False, zero_masked: bool = False,
                   expand_axis: int = 1) -> torch.Tensor:
    """Softmax over ``axes`` with masked scores set to ``fill`` (or, ``additive``, given
    ``(1 - mask) * fill`` added); ``causal`` keeps j <= i of the last two axes, ``window`` the
    band |i - j| < window; ``zero_masked`` zeroes masked probabilities afterwards."""
    keep: torch.Tensor | None = None
    if mask is not None:
        while mask.dim() < x.dim():
            mask = mask.unsqueeze(expand_axis)
        keep = mask
    t, s = x.shape[-2], x.shape[-1]
    band: torch.Tensor | None = None
    if causal:
        band = torch.ones(t, s, dtype=torch.bool, device=x.device).tril()
    if window > 0:
        i = torch.arange(t, device=x.device)[:, None]
        j = torch.arange(s, device=x.device)[None, :]
        near = (i - j).abs() < window
        band = near if band is None else band & near
    if additive and (keep is not None or band is not None):
        m = torch.ones_like(x) if keep is None else keep.to(x.dtype)
        if band is not None:
            m = m * band.to(x.dtype)
        x = x + (1.0 - m) * fill
    kept: torch.Tensor | None = None if keep is None else keep != 0
    if band is not None:
        kept = band if kept is None else kept & band
    if kept is not None and not additive:
        x = torch.where(kept, x, torch.full_like(x, fill))
    e = torch.exp(x - torch.amax(x, dim=axes, keepdim=True))
    e = e / e.sum(dim=axes, keepdim=True)
    if kept is not None and zero_masked:
        e = e * kept.to(e.dtype)
    return e
''',
    "keras_activation": '''
def keras_activation(name: str, x: torch.Tensor) -> torch.Tensor:
    """The activations of Keras' recurrent cells, by name."""
    if name == "tanh":
        return torch.tanh(x)
    if name == "sigmoid":
        return torch.sigmoid(x)
    if name == "hard_sigmoid":
        return F.hardsigmoid(x)
    if name == "hard_sigmoid_0.2":
        return torch.clamp(x * 0.2 + 0.5, 0.0, 1.0)
    if name == "relu":
        return torch.relu(x)
    if name == "relu6":
        return torch.clamp(x, 0.0, 6.0)
    if name == "elu":
        return F.elu(x)
    if name == "selu":
        return F.selu(x)
    if name == "softsign":
        return F.softsign(x)
    if name == "softplus":
        return F.softplus(x)
    if name == "silu":
        return F.silu(x)
    if name == "gelu":
        return F.gelu(x)
    if name == "exp":
        return torch.exp(x)
    return x
''',
    "KerasRNN": '''
class KerasRNN(nn.Module):
    """Keras' SimpleRNN, LSTM (gates i, f, c, o) or GRU (gates z, r, h; reset_after or not)
    with Keras' weight layout, activations and mask rule: a masked step keeps the state and
    repeats the previous output (zeros with zero_output_for_mask). Returns (outputs, h, c);
    c is h for cells without a carry."""

    def __init__(self, cell: str, input_size: int, units: int, activation: str = "tanh",
                 recurrent_activation: str = "sigmoid", reset_after: bool = True,
                 go_backwards: bool = False, return_sequences: bool = False,
                 zero_output_for_mask: bool = False) -> None:
        super().__init__()
        gates = 4 if cell == "lstm" else 3 if cell == "gru" else 1
        self.cell, self.units, self.reset_after = cell, units, cell == "gru" and reset_after
        self.activation, self.recurrent_activation = activation, recurrent_activation
        self.go_backwards, self.return_sequences = go_backwards, return_sequences
        self.zero_output_for_mask = zero_output_for_mask
        self.kernel = nn.Parameter(torch.empty(input_size, gates * units))
        self.recurrent_kernel = nn.Parameter(torch.empty(units, gates * units))
        self.bias = nn.Parameter(torch.zeros((2, gates * units) if self.reset_after
                                             else (gates * units,)))

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None,
                c0: torch.Tensor | None = None, mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        u = self.units
        rec_bias = torch.zeros_like(self.bias[0])
        if self.reset_after:
            proj = torch.matmul(x, self.kernel) + self.bias[0]
            rec_bias = self.bias[1]
        else:
            proj = torch.matmul(x, self.kernel) + self.bias
        zeros = torch.zeros(x.shape[0], u, dtype=x.dtype, device=x.device)
        h = zeros if h0 is None else h0
        c = zeros if c0 is None else c0
        out = zeros
        outputs: list[torch.Tensor] = []
        steps = x.shape[1]
        for step in range(steps):
            t = steps - 1 - step if self.go_backwards else step
            xt = proj[:, t]
            new_c = c
            if self.cell == "lstm":
                z = xt + torch.matmul(h, self.recurrent_kernel)
                i = keras_activation(self.recurrent_activation, z[:, :u])
                f = keras_activation(self.recurrent_activation, z[:, u:2 * u])
                g = keras_activation(self.activation, z[:, 2 * u:3 * u])
                o = keras_activation(self.recurrent_activation, z[:, 3 * u:])
                new_c = f * c + i * g
                new_h = o * keras_activation(self.activation, new_c)
            elif self.cell == "gru" and self.reset_after:
                rec = torch.matmul(h, self.recurrent_kernel) + rec_bias
                z = keras_activation(self.recurrent_activation, xt[:, :u] + rec[:, :u])
                r = keras_activation(self.recurrent_activation,
                                     xt[:, u:2 * u] + rec[:, u:2 * u])
                hh = keras_activation(self.activation, xt[:, 2 * u:] + r * rec[:, 2 * u:])
                new_h = z * h + (1 - z) * hh
            elif self.cell == "gru":
                rec = torch.matmul(h, self.recurrent_kernel[:, :2 * u])
                z = keras_activation(self.recurrent_activation, xt[:, :u] + rec[:, :u])
                r = keras_activation(self.recurrent_activation, xt[:, u:2 * u] + rec[:, u:])
                hh = keras_activation(self.activation, xt[:, 2 * u:] + torch.matmul(
                    r * h, self.recurrent_kernel[:, 2 * u:]))
                new_h = z * h + (1 - z) * hh
            else:
                new_h = keras_activation(self.activation,
                                         xt + torch.matmul(h, self.recurrent_kernel))
            if mask is None:
                h, c, out = new_h, new_c, new_h
            else:
                keep = mask[:, t].unsqueeze(-1) != 0
                h, c = torch.where(keep, new_h, h), torch.where(keep, new_c, c)
                out = torch.where(keep, new_h, zeros if self.zero_output_for_mask else out)
            outputs.append(out)
        y = torch.stack(outputs, 1) if self.return_sequences else out
        return y, h, c
''',
    "conv_nd": '''
def conv_nd(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
            stride: list[int], dilation: list[int]) -> torch.Tensor:
    """An unpadded 1-, 2- or 3-d convolution, by the weight's rank."""
    if weight.dim() == 3:
        return F.conv1d(x, weight, bias, stride, 0, dilation)
    if weight.dim() == 4:
        return F.conv2d(x, weight, bias, stride, 0, dilation)
    return F.conv3d(x, weight, bias, stride, 0, dilation)
''',
    "KerasConvLSTM": '''
class KerasConvLSTM(nn.Module):
    """Keras' ConvLSTM1D/2D/3D: an LSTM (gates i, f, c, o) whose products are convolutions
    (the recurrent one 'same' with stride 1), with Keras' mask rule. Takes and returns Keras'
    channels-last (N, T, *S, C); channels-first inside."""

    def __init__(self, channels: int, filters: int, kernel_size: list[int], strides: list[int],
                 dilations: list[int], padding: str, activation: str = "tanh",
                 recurrent_activation: str = "sigmoid", go_backwards: bool = False,
                 return_sequences: bool = False, zero_output_for_mask: bool = False) -> None:
        super().__init__()
        self.filters, self.kernel_size, self.padding = filters, kernel_size, padding
        self.strides, self.dilations = strides, dilations
        self.ones = [1] * len(kernel_size)
        self.activation, self.recurrent_activation = activation, recurrent_activation
        self.go_backwards, self.return_sequences = go_backwards, return_sequences
        self.zero_output_for_mask = zero_output_for_mask
        self.weight = nn.Parameter(torch.empty([4 * filters, channels] + kernel_size))
        self.recurrent_weight = nn.Parameter(torch.empty([4 * filters, filters] + kernel_size))
        self.bias = nn.Parameter(torch.zeros(4 * filters))

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None,
                c0: torch.Tensor | None = None, mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n, steps, f = x.shape[0], x.shape[1], self.filters
        frames = x.flatten(0, 1).movedim(-1, 1)
        if self.padding == "same":
            frames = same_pad(frames, self.kernel_size, self.strides, self.dilations)
        proj = conv_nd(frames, self.weight, self.bias, self.strides, self.dilations)
        proj = proj.unflatten(0, (n, steps))
        zeros = torch.zeros_like(proj[:, 0, :f])
        h = zeros if h0 is None else h0.movedim(-1, 1)
        c = zeros if c0 is None else c0.movedim(-1, 1)
        out = zeros
        outputs: list[torch.Tensor] = []
        for step in range(steps):
            t = steps - 1 - step if self.go_backwards else step
            rec = same_pad(h, self.kernel_size, self.ones, self.ones)
            z = proj[:, t] + conv_nd(rec, self.recurrent_weight, None, self.ones, self.ones)
            i = keras_activation(self.recurrent_activation, z[:, :f])
            g_f = keras_activation(self.recurrent_activation, z[:, f:2 * f])
            g = keras_activation(self.activation, z[:, 2 * f:3 * f])
            o = keras_activation(self.recurrent_activation, z[:, 3 * f:])
            new_c = g_f * c + i * g
            new_h = o * keras_activation(self.activation, new_c)
            if mask is None:
                h, c, out = new_h, new_c, new_h
            else:
                keep = (mask[:, t] != 0).reshape([n] + [1] * (new_h.dim() - 1))
                h, c = torch.where(keep, new_h, h), torch.where(keep, new_c, c)
                out = torch.where(keep, new_h, zeros if self.zero_output_for_mask else out)
            outputs.append(out)
        if self.return_sequences:
            return torch.stack(outputs, 1).movedim(2, -1), h.movedim(1, -1), c.movedim(1, -1)
        return out.movedim(1, -1), h.movedim(1, -1), c.movedim(1, -1)
''',
}
