"""One CPU code path for every x86-64 machine, so the same params give the same bytes on Intel and AMD.

PyTorch picks its kernels by the CPU it finds: ATen's vectorised loops (activations, losses, Adam) run
16 floats wide on AVX-512 and 8 wide on AVX2, and MKL's matrix products take another branch on
Intel than on AMD. Each width sums in another order, so the last bits of the weights differ. The
variables below pin one path. Both libraries read them once, at first use, so `stages/__init__.py`
sets them before any stage imports torch, whatever the user's shell says. JAX's compiler (XLA)
compiles for the CPU it finds too; its cap is added to the user's own XLA_FLAGS, after them, so it wins.
"""

import os
import platform

X86_64 = {"x86_64", "amd64"}
SAME_ARCHITECTURE = {"amd64": "x86_64", "arm64": "aarch64"}  # Windows' and macOS's names for them

PINNED = {
    # AVX2: every x86-64 CPU of the last decade has it, and on AVX-512 CPUs it was as fast here.
    "ATEN_CPU_CAPABILITY": "avx2",
    # MKL's one branch that gives the same results on Intel and AMD processors.
    "MKL_CBWR": "COMPATIBLE",
    # No oneDNN primitive runs for these models (ONEDNN_VERBOSE shows none); capped all the same, so
    # a torch upgrade that routes Linear through oneDNN cannot bring AVX-512 back unnoticed.
    "ONEDNN_MAX_CPU_ISA": "AVX2",
}
# XLA compiles for at most AVX2 (train.framework jax). A CPU without AVX2 (and so without FMA) gets
# other bytes from XLA, as it does from torch: machine_class() names it DEFAULT.
XLA_PIN = "--xla_cpu_max_isa=AVX2"


def is_x86_64() -> bool:
    """Whether this machine runs x86-64 code, by Linux's, macOS's or Windows' name for it."""
    return platform.machine().lower() in X86_64


def pin_cpu_code_paths(environ: dict[str, str] = os.environ) -> None:
    """Set PINNED and XLA_PIN in `environ` on x86-64; other architectures have no such kernels to choose."""
    if is_x86_64():
        environ.update(PINNED)
        flags = environ.get("XLA_FLAGS", "")
        if not flags.endswith(XLA_PIN):
            environ["XLA_FLAGS"] = f"{flags} {XLA_PIN}".strip()


def machine_class() -> dict[str, str]:
    """What the pins cannot cover: the architecture, the OS, and the kernels torch really runs.

    A CPU without AVX2 falls back to ATen's `DEFAULT` kernels and so is a class of its own.
    """
    import torch

    architecture = platform.machine().lower()
    return {
        "architecture": SAME_ARCHITECTURE.get(architecture, architecture),
        "system": platform.system(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


def require_pinned() -> None:
    """Stop if torch chose its kernels before the pin, as when torch ran before `stages` was imported."""
    import torch

    from stages.cli import UserError

    chosen = torch.backends.cpu.get_cpu_capability()
    pinned_or_fallback = {PINNED["ATEN_CPU_CAPABILITY"].upper(), "DEFAULT"}  # DEFAULT: a CPU without AVX2
    if is_x86_64() and chosen not in pinned_or_fallback:
        raise UserError(
            f"torch chose its {chosen} kernels before stages/cpu.py could pin them, so the bytes would "
            "depend on this CPU; import `stages` before torch runs anything (`python -m stages.train` does)"
        )
