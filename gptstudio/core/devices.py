"""Which devices this machine has, which dtypes each can do, and what 'auto' means."""

from __future__ import annotations

import gc
import os
import platform
import sys
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DeviceInfo:
    id: str  # "cpu", "cuda:0", "mps"
    label: str  # human text, e.g. "CUDA: NVIDIA H200 (139 GiB)"
    dtypes: tuple  # dtype names this device can train in, best first

    @property
    def type(self) -> str:
        return self.id.split(":")[0]


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 dot products (AVX512-BF16 / AMX): only then is bf16 a win."""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return platform.machine().lower() in {"arm64", "aarch64"} and platform.system() == "Darwin"
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cpu_info() -> DeviceInfo:
    threads = torch.get_num_threads()
    dtypes = ("float32", "bfloat16") if cpu_supports_bf16() else ("float32",)
    return DeviceInfo("cpu", f"CPU, {threads} thread{'s' if threads != 1 else ''}", dtypes)


def cuda_bf16_native(props) -> bool:
    """True when a GPU computes in bf16 itself (Ampere and later, or AMD). Older GPUs (T4, V100) only
    emulate it, slowly, yet torch.cuda.is_bf16_supported() says True there, and it asks about the
    current GPU rather than this one: nanoGPT's `auto` picked bf16 on a T4 that way."""
    return bool(torch.version.hip) or props.major >= 8


def available_devices() -> list[DeviceInfo]:
    """Every device training can use here, best first (CUDA GPUs, then MPS, then CPU)."""
    found: list[DeviceInfo] = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            gib = props.total_memory / 2**30
            dtypes = ("bfloat16", "float16", "float32") if cuda_bf16_native(props) else ("float16", "float32")
            found.append(DeviceInfo(f"cuda:{i}", f"CUDA: {props.name} ({gib:.0f} GiB)", dtypes))
    if _mps_available():
        found.append(DeviceInfo("mps", "Apple MPS", ("float32", "float16")))
    found.append(cpu_info())
    return found


def resolve_device(spec: str = "auto") -> str:
    """'auto' -> the best device present; 'cuda' -> 'cuda:0'; else the spec unchanged."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        return available_devices()[0].id
    if spec == "cuda":
        return "cuda:0"
    return spec


def device_info(spec: str) -> DeviceInfo | None:
    """The DeviceInfo for a spec, or None if this machine does not have that device."""
    dev = resolve_device(spec)
    for d in available_devices():
        if d.id == dev:
            return d
    return None


def resolve_dtype(dtype: str, device: str) -> str:
    """'auto' -> the fastest safe dtype for the device: bf16 (else fp16) on CUDA, fp32 elsewhere."""
    if dtype and dtype != "auto":
        return dtype
    info = device_info(device)
    if info is None or info.type != "cuda":
        return "float32"
    return info.dtypes[0]


def describe_default_device() -> str:
    return available_devices()[0].label


def compile_unsupported_reason(device: str = "auto") -> str | None:
    """Why torch.compile cannot run here ("on Windows", ...), or None where it works (Linux/macOS CUDA and CPU)."""
    if getattr(sys, "frozen", False):
        # it compiles C++ and Triton code against Python's headers with the system's compiler
        return "in the desktop bundle (it needs a C compiler and Python's headers; install with pip to use it)"
    if platform.system() == "Windows":
        return "on Windows (no Triton)"
    if resolve_device(device).startswith("mps"):
        return "on Apple MPS"
    return None


def compile_supported(device: str = "auto") -> bool:
    return compile_unsupported_reason(device) is None


def compile_default() -> bool:
    """On by default only where it pays off and is known to work: Linux with a CUDA GPU, outside the bundle."""
    return platform.system() == "Linux" and torch.cuda.is_available() and compile_supported()


def free_memory_bytes(device: str) -> int | None:
    """Free memory available to the device, or None if unknown."""
    dev = resolve_device(device)
    if dev.startswith("cuda") and torch.cuda.is_available():
        free, _total = torch.cuda.mem_get_info(torch.device(dev))
        return int(free)
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:
        return None


def release_cached_memory(device: str) -> None:
    """Give the GPU memory a finished job leaves in PyTorch's cache back to the driver: a job in the app's
    own process (a training run, the speed measurement) would otherwise keep it from the next process on
    that GPU (a torchrun run started from the app, another program)."""
    if resolve_device(device).startswith("cuda") and torch.cuda.is_available():
        gc.collect()  # tensors kept only by reference cycles
        torch.cuda.empty_cache()


def set_cpu_threads() -> None:
    """Use every physical core for intra-op work (torch's default can leave cores idle)."""
    n = os.cpu_count() or 1
    if torch.get_num_threads() < n:
        torch.set_num_threads(n)
