"""stages/lib/exact.py's operations on torch tensors, for the exact arithmetic on CUDA (the CPU path runs
on NumPy, and imports no torch for it)."""

import math

import torch

from stages.lib.exact import Ops


def _torch_sqrt(x: torch.Tensor) -> torch.Tensor:
    """float32 square root, correctly rounded, from any square root within one unit of it.

    torch's own float32 sqrt goes through MKL on x86 and is one unit off for a fifth of inputs. A
    candidate `s` is the float32 nearest the float64 root; it is then moved to the neighbour whose
    midpoint test says so. The midpoints of float32 neighbours have 25 bits and their squares 50, so
    the test is exact in float64, and the result correctly rounded, whatever the library's root.
    """
    wide = x.double()
    s = torch.sqrt(wide).float()
    up, down = torch.nextafter(s, torch.full_like(s, math.inf)), torch.nextafter(s, torch.zeros_like(s))
    above, below = (s.double() + up.double()) * 0.5, (s.double() + down.double()) * 0.5
    s = torch.where(above * above < wide, up, s)
    s = torch.where(below * below > wide, down, s)
    return torch.where(x > 0, s, torch.sqrt(x))  # 0, inf and NaN as IEEE says


TORCH = Ops(
    mul=torch.mul,
    where=torch.where,
    clip=torch.clamp,
    round=torch.round,
    sqrt=_torch_sqrt,
    to_bits=lambda x: x.view(torch.int32),
    from_bits=lambda bits: bits.view(torch.float32),
    to_int=lambda x: x.to(torch.int32),
    to_float=lambda n: n.to(torch.float32),
    cat=lambda arrays, axis: torch.cat(arrays, dim=axis),
)
